/*
 * faultline-zerobench: what zeros cost on this machine, installed the two
 * ways a userfaultfd handler can and then written, against the kernel's own
 * anonymous write fault.  The agent maps the zero page for read faults and
 * copies zeros into the workload's own pages for a write fault's window
 * (native-agent/README.md, "zeros"); this is the measurement behind that.
 *
 *   faultline-zerobench [--size SIZE] [--repeat N]
 *
 * Each mode touches SIZE of fresh anonymous memory with a write per 4 KiB
 * page (an atomic add of 0), from 1 and from 2 threads, each thread its own
 * half; the time covers the install (none for the kernel) and the writes:
 *   kernel anon      the kernel's write fault on untouched memory;
 *   zero page        UFFDIO_ZEROPAGE over the range, then the writes, each
 *                    a copy-on-write fault on the read-only zero page;
 *   copied zeros     UFFDIO_COPY from a zero buffer (pages of the region's
 *                    own), then the writes, which fault no more.
 * The installs run in the measuring thread(s) itself, each over its half.
 * Twice the memory is touched and freed before every run (these VMs hand
 * idle memory back to their host).  Medians of N; needs a userfaultfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define CHUNK (64u * PAGE) /* one install: a fault-around window of 16 pages, four of them */
#define MAX_REPEAT 15

enum mode { M_KERNEL, M_ZEROPAGE, M_COPY, M_N };
static const char *const mode_names[M_N] = { "kernel anon", "zero page", "copied zeros" };

struct part {
	pthread_t t;
	enum mode mode;
	int uffd;
	uint8_t *mem;
	size_t len;
	const uint8_t *zeros;
	int err;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *run_part(void *arg)
{
	struct part *pt = arg;

	for (size_t off = 0; off < pt->len && pt->mode != M_KERNEL; off += CHUNK) {
		size_t len = pt->len - off < CHUNK ? pt->len - off : CHUNK;
		int ret;

		if (pt->mode == M_ZEROPAGE) {
			struct uffdio_zeropage zp = { .range = { (uintptr_t)pt->mem + off, len } };

			ret = ioctl(pt->uffd, UFFDIO_ZEROPAGE, &zp);
		} else {
			struct uffdio_copy cp = { .dst = (uintptr_t)pt->mem + off,
						  .src = (uintptr_t)pt->zeros, .len = len };

			ret = ioctl(pt->uffd, UFFDIO_COPY, &cp);
		}
		if (ret) {
			pt->err = errno;
			return NULL;
		}
	}
	for (size_t off = 0; off < pt->len; off += PAGE)
		__atomic_fetch_add((uint64_t *)(pt->mem + off), 0, __ATOMIC_RELAXED);
	return NULL;
}

static void warm(size_t len)
{
	uint8_t *m = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return;
	for (size_t off = 0; off < 2 * len; off += PAGE)
		m[off] = 1;
	munmap(m, 2 * len);
}

/* One run: fresh memory, registered for missing faults unless the kernel serves it. */
static int run(enum mode mode, unsigned threads, size_t len, const uint8_t *zeros, double *ms)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct part parts[2];
	uint8_t *mem;
	int uffd = -1, ret = -1;
	double t0;

	warm(len);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	madvise(mem, len, MADV_NOHUGEPAGE);
	if (mode != M_KERNEL) {
		struct uffdio_register reg = { .range = { (uintptr_t)mem, len },
					       .mode = UFFDIO_REGISTER_MODE_MISSING };

		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			fprintf(stderr, "userfaultfd: %s (root, or vm.unprivileged_userfaultfd)\n",
				strerror(errno));
			goto out;
		}
	}
	t0 = now_ms();
	for (unsigned i = 0; i < threads; i++) {
		parts[i] = (struct part){ .mode = mode, .uffd = uffd, .mem = mem + i * (len / threads),
					  .len = len / threads, .zeros = zeros };
		if (pthread_create(&parts[i].t, NULL, run_part, &parts[i]))
			goto out;
	}
	ret = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(parts[i].t, NULL);
		if (parts[i].err) {
			fprintf(stderr, "%s: %s\n", mode_names[mode], strerror(parts[i].err));
			ret = -1;
		}
	}
	*ms = now_ms() - t0;
out:
	if (uffd >= 0)
		close(uffd);
	munmap(mem, len);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t len = 256u << 20;
	unsigned repeat = 5;
	double ms[M_N][2][MAX_REPEAT], med[M_N][2];
	uint8_t *zeros;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			unsigned long long v = strtoull(argv[++i], &end, 10);

			v <<= *end == 'G' ? 30 : *end == 'M' ? 20 : *end == 'K' ? 10 : 0;
			if (!v || v % (2 * CHUNK)) {
				fprintf(stderr, "--size: a multiple of %u bytes, e.g. 256M\n", 2 * CHUNK);
				return 2;
			}
			len = (size_t)v;
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = (unsigned)strtoul(argv[++i], &end, 10);
			if (!repeat || repeat > MAX_REPEAT || *end) {
				fprintf(stderr, "--repeat: 1 to %u\n", MAX_REPEAT);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s [--size SIZE] [--repeat N]\n", argv[0]);
			return 2;
		}
	}
	zeros = mmap(NULL, CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (zeros == MAP_FAILED)
		return 1;
	/* modes in turn within each repeat: a slow period of the machine hits them alike */
	for (unsigned k = 0; k < repeat; k++)
		for (unsigned t = 0; t < 2; t++)
			for (unsigned m = 0; m < M_N; m++)
				if (run((enum mode)m, t + 1, len, zeros, &ms[m][t][k]))
					return 1;
	for (unsigned m = 0; m < M_N; m++)
		for (unsigned t = 0; t < 2; t++) {
			qsort(ms[m][t], repeat, sizeof(double), cmp_double);
			med[m][t] = ms[m][t][repeat / 2];
		}
	printf("%zu MiB written once per 4 KiB page, medians of %u, modes in turn.\n\n"
	       "| zeros | threads | time | us per page | vs kernel anon |\n"
	       "|---|---:|---:|---:|---:|\n", len >> 20, repeat);
	for (unsigned m = 0; m < M_N; m++)
		for (unsigned t = 0; t < 2; t++)
			printf("| %s | %u | %.0f ms | %.2f | %.2fx |\n", mode_names[m], t + 1, med[m][t],
			       med[m][t] * 1e3 / (double)(len / PAGE), med[m][t] / med[M_KERNEL][t]);
	printf("\nzero page / copied zeros: %.2fx (1 thread), %.2fx (2 threads)\n",
	       med[M_ZEROPAGE][0] / med[M_COPY][0], med[M_ZEROPAGE][1] / med[M_COPY][1]);
	return 0;
}
