/*
 * Installing pages into a region, and the work that installs pages no
 * fault asked for yet: working-set replay, the population of a detach, the
 * background populator.  Worker thread only (see fault.h).
 *
 * Errors are classified as CRIU's lazy-pages daemon does (criu/uffd.c):
 *   EEXIST  the page is present already: mark it and go on;
 *   EAGAIN  with progress: the copy stopped at a present page, go on;
 *           without progress: the mm is changing (a remove/unmap/remap
 *           event is queued or being applied): retry after reading events;
 *   ESRCH   the workload is gone;
 *   ENOENT  the range is no longer registered (an unmap not read yet);
 *   other   a bug or a broken image: the region stops being served.
 */
#ifndef FAULTLINE_INSTALL_H
#define FAULTLINE_INSTALL_H

#include <stdbool.h>
#include <stdint.h>

#include "region.h"

struct ufd;

enum install_res {
	INSTALL_OK,
	INSTALL_MM_CHANGING,
	INSTALL_GONE,
	INSTALL_NOENT,
	INSTALL_FAILED,
	INSTALL_WAIT, /* a snapshot's buffer is full: retried when the writer drained it */
	INSTALL_PARK, /* a strategy has no page yet (strategy.h missing_fault): parked, later faults go on */
};

#define INSTALL_NO_DEMAND UINT64_MAX

/* install_range()'s how */
#define INSTALL_WAKE 1u          /* wake the threads waiting on the pages installed */
#define INSTALL_ZEROS_PRIVATE 2u /* zeros as private pages, not the shared zero page: see install.c */

struct install_out {
	uint64_t installed;  /* pages this call installed */
	bool demand_woken;   /* the demand page was installed, waking its waiters */
	int err;             /* errno of INSTALL_FAILED */
};

enum install_res install_range(struct ufd *u, struct region *r, uint64_t first, uint64_t n,
			       enum region_path path, uint64_t demand, unsigned how,
			       struct install_out *out);
enum install_res install_wake(struct ufd *u, uint64_t addr, uint64_t len);
enum install_res install_unprotect(struct ufd *u, uint64_t addr, uint64_t len);
enum install_res install_continue(struct ufd *u, uint64_t addr, uint64_t len);
bool install_pending(const struct region *r, uint64_t now_ns);
enum install_res install_step(struct ufd *u, struct region *r, uint64_t now_ns);
void install_check_complete(struct ufd *u, struct region *r);
void install_fail(struct ufd *u, struct region *r, int err, const char *what);

#endif /* FAULTLINE_INSTALL_H */
