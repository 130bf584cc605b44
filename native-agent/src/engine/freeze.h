/*
 * Stopping every thread of a workload for a moment, with ptrace
 * (PTRACE_SEIZE + PTRACE_INTERRUPT), and letting them go on again.
 *
 * Why: moving a range between its track and hold uffds clears its uffd-wp
 * bits (track.h), so writes made between a last PAGEMAP_SCAN on the track
 * uffd and the protection on the hold uffd would be unseen.  While every
 * thread of the workload is stopped nothing writes, and the scan, the
 * move and the protection together become one instant (mig_src_engine.c).
 * Soft-dirty bits could close the same gap without stopping anybody, but
 * not on kernels without CONFIG_MEM_SOFT_DIRTY (this project's hosts), and
 * they miss a MADV_DONTNEED made while the range is registered nowhere.
 *
 * A seized thread that is interrupted stops at its next return to user
 * space; the syscall it was in is restarted when it goes on (the workload
 * sees nothing but the pause).  A thread blocked in the kernel on a page
 * fault of the agent's stops only once the fault is resolved, so the
 * caller keeps serving faults and polls (freeze_poll) instead of waiting.
 * Threads created meanwhile are seized too (PTRACE_O_TRACECLONE, and the
 * thread list read again once all known ones are stopped).  A signal that
 * arrives during the pause is delivered when the thread goes on.
 *
 * Threads: ptrace requests must come from the thread that seized, so one
 * thread (the region's fault worker) runs a freeze from begin to end.
 * Only the tids seized are waited for (never waitpid(-1): the agent's own
 * children are not ours to reap).  If the agent dies meanwhile, the
 * kernel detaches the threads and they go on.
 */
#ifndef FAULTLINE_FREEZE_H
#define FAULTLINE_FREEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct freeze_thread {
	pid_t tid;
	bool stopped;
	int sig; /* a signal caught at its stop, delivered when it goes on */
};

struct freeze {
	pid_t pid;
	struct freeze_thread *th;
	size_t n, cap;
	uint64_t begin_ns;
	bool active;
};

int freeze_begin(struct freeze *f, pid_t pid);
int freeze_poll(struct freeze *f);
void freeze_end(struct freeze *f);
bool freeze_gone(const struct freeze *f); /* the workload is exiting or gone (killed while stopped) */

#endif /* FAULTLINE_FREEZE_H */
