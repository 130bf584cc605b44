/*
 * faultline-bench: lazy restore of an image by the agent, side by side in
 * one run with the kernel's first-touch fault on anonymous memory, the
 * kernel's fault on a MAP_PRIVATE mapping of the same image (Firecracker's
 * File backend), and a minimal one-page-per-fault uffd handler.  Prints
 * Markdown for docs/benchmarks.md.
 *
 *   faultline-bench [--size SIZE] [--repeat N] [--agent PATH] [--cold] [--clones N]
 *                   [--install-helpers N] [--reads] [--scale [--writes] | --replay
 *                   [--compare PATH]]
 *                   [--clone-around N]
 * --install-helpers N is handed to the agents (default: the agent's, online CPUs - 1).
 * --reads runs only the read touches and clones table; --clone-around N is the
 * clone sessions' fault_around_pages there (default 16).
 * --scale runs only the thread-scaling table: 1, 2 and 4 faulting threads,
 * write and read touches (--writes: write touches only), the kernel's
 * MAP_PRIVATE against faultline;
 * --replay runs only the working-set table (hot10, lazy against replay at
 * fault-around 16 and 0).
 * --compare PATH (twice at most, with --scale or --replay) adds other agent
 * binaries (an older build, say), run in turn with the first so that a
 * shared machine's load falls on all alike.
 *
 * --cold drops the image from the page cache before every run
 * (posix_fadvise DONTNEED), so pages come from the disk; without it the
 * image is read once first and every mode finds it in the page cache.
 * --clones N measures only the memory N clones of the image take together
 * (bench_clones.c).  Read touches are measured beside write touches, and
 * the clone mode (one shared copy, PROTOCOL.md §2.6) beside copying.
 *
 * Every measurement is preceded by allocating, touching and freeing twice
 * the image size (VMs give idle memory back to the host, and first touches
 * of such memory cost several times more); the image is read once before
 * the runs so that every mode reads it from the page cache.  Each case is
 * run --repeat times (default 3) and the median of each number reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPEAT 15

static const char *const mode_names[] = { "kernel anon", "kernel MAP_PRIVATE file",
					   "minimal handler", "faultline" };
static const char *const pattern_names[] = { "seq", "random", "hot10" };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of one field over the repeats. */
static double median(const struct bench_result *rs, unsigned n, size_t off)
{
	double v[MAX_REPEAT];

	for (unsigned i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&rs[i] + off);
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

static double median_u64(const struct bench_result *rs, unsigned n, size_t off)
{
	double v[MAX_REPEAT];

	for (unsigned i = 0; i < n; i++)
		v[i] = (double)*(const uint64_t *)((const char *)&rs[i] + off);
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

struct summary {
	double total_ms, touch_ms, ns_per_page, p50_us, p99_us, faults, first_fault_ms;
	double agent_reply_ms, agent_registered_ms, agent_first_fault_ms;
	double agent_faults, agent_prefetched, agent_p50_us, agent_p99_us, agent_cpu_ms;
	uint64_t mismatches;
};

static void summarize(const struct bench_case *c, const struct bench_result *rs, unsigned repeat,
		      struct summary *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < repeat; i++)
		s->mismatches += rs[i].mismatches;
#define MED(f) median(rs, repeat, offsetof(struct bench_result, f))
#define MEDU(f) median_u64(rs, repeat, offsetof(struct bench_result, f))
	s->total_ms = MED(total_ms);
	s->touch_ms = MED(touch_ms);
	s->ns_per_page = MED(ns_per_page);
	s->p50_us = MED(p50_us);
	s->p99_us = MED(p99_us);
	s->first_fault_ms = MED(first_fault_ms);
	s->agent_reply_ms = MED(agent_reply_ms);
	s->agent_registered_ms = MED(agent_registered_ms);
	s->agent_first_fault_ms = MED(agent_first_fault_ms);
	s->faults = MEDU(faults);
	s->agent_faults = MEDU(agent_faults);
	s->agent_prefetched = MEDU(agent_prefetched);
	s->agent_p50_us = MED(agent_p50_us);
	s->agent_p99_us = MED(agent_p99_us);
	s->agent_cpu_ms = MED(agent_cpu_ms);
	fprintf(stderr, "  %-24s %-6s x%u%s%s%s: %8.1f ms  %7.0f ns/page  p50 %6.1f us  agent faults %llu"
		"  agent CPU %.0f ms\n", mode_names[c->mode], pattern_names[c->pattern], c->threads,
		c->read ? " read" : "", c->clone ? " clone" : "",
		c->other == 1 ? " (--compare)" : c->other == 2 ? " (2nd --compare)" : "",
		s->touch_ms, s->ns_per_page, s->p50_us, (unsigned long long)s->agent_faults,
		s->agent_cpu_ms);
}

/*
 * Runs n cases repeat times each, in turn (a, b, c, a, b, c, ...), so that
 * a load that comes and goes on a shared machine falls on all of them alike.
 */
static int measure_turns(const struct bench_env *env, const struct bench_case *cs, unsigned n,
			 unsigned repeat, struct summary *s)
{
	struct bench_result rs[6][MAX_REPEAT];

	for (unsigned i = 0; i < repeat; i++) {
		for (unsigned k = 0; k < n; k++) {
			if (bench_run(env, &cs[k], &rs[k][i])) {
				fprintf(stderr, "faultline-bench: %s %s x%u failed\n", mode_names[cs[k].mode],
					pattern_names[cs[k].pattern], cs[k].threads);
				return -1;
			}
		}
	}
	for (unsigned k = 0; k < n; k++)
		summarize(&cs[k], rs[k], repeat, &s[k]);
	return 0;
}

static int measure(const struct bench_env *env, const struct bench_case *c, unsigned repeat,
		   struct summary *s)
{
	return measure_turns(env, c, 1, repeat, s);
}

static void machine(const struct bench_env *env, unsigned repeat)
{
	char line[256], model[256] = "unknown";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "re");
	long mem_kb = 0;

	uname(&u);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "re");
	if (f && fscanf(f, "MemTotal: %ld kB", &mem_kb) != 1)
		mem_kb = 0;
	if (f)
		fclose(f);
	printf("Machine: %s, %ld CPUs, %.1f GiB RAM, Linux %s.  Image %llu MiB (%s), "
	       "%u repeats, medians.\n\n", model, sysconf(_SC_NPROCESSORS_ONLN),
	       (double)mem_kb / (1 << 20), u.release, (unsigned long long)(env->size >> 20),
	       env->cold ? "dropped from the page cache before every run: --cold" : "in the page cache",
	       repeat);
}

/* Reads the image once so that every mode finds it in the page cache. */
static int prewarm(const char *path)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -1 : 0;
}

struct goal {
	const char *what;
	double value, limit;
	bool at_most;
};

static void print_goals(const struct goal *g, unsigned n)
{
	printf("\n| goal | measured | target | met |\n|---|---:|---:|:---:|\n");
	for (unsigned i = 0; i < n; i++)
		printf("| %s | %.2f | %s %.2f | %s |\n", g[i].what, g[i].value, g[i].at_most ? "<=" : ">=",
		       g[i].limit,
		       (g[i].at_most ? g[i].value <= g[i].limit : g[i].value >= g[i].limit) ? "yes"
											  : "**no**");
}

/*
 * A guest mostly reads: read touches against the kernel's MAP_PRIVATE read
 * of the image (Firecracker's File backend: page-cache pages mapped, no
 * allocation, no copy), for copying restores and for clones, whose shared
 * copy is made before the runs and kept by a session of its own (the
 * steady state of many clones of one image).  Restore-to-first-fault is
 * from the restore request (the kernel: from mmap) to the first touch
 * served.
 */
static int reads_and_clones(struct bench_env *env, unsigned repeat, struct goal *goals, unsigned *ng)
{
	static const enum content_pattern pats[] = { CONTENT_SEQ, CONTENT_RANDOM };
	struct bench_case keep = { .mode = BM_FAULTLINE, .clone = true, .fault_around = 16 };
	struct summary s[2][2][4];
	char socket[256], keeper[40];
	unsigned g = 0;

	if (bench_restore_create(&env->spin, env, &keep, socket, sizeof(socket), keeper, sizeof(keeper)))
		return -1;
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			/* MAP_PRIVATE read, faultline read, clone read, clone write */
			const struct bench_case cs[4] = {
				{ .mode = BM_FILE, .pattern = pats[p], .threads = t + 1, .read = true },
				{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = t + 1, .fault_around = 16,
				  .read = true },
				{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = t + 1,
				  .fault_around = env->clone_around, .read = true, .clone = true },
				{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = t + 1,
				  .fault_around = env->clone_around, .clone = true },
			};

			for (unsigned m = 0; m < 4; m++) {
				if (measure(env, &cs[m], repeat, &s[p][t][m]))
					goto drop_keeper;
			}
		}
	}
	printf("\n### Read touches, and clones (one shared copy), fault-around 16 (clones: %u, at"
	       " least 64 in the agent)\n\n"
	       "| pattern | threads | kernel MAP_PRIVATE read | faultline read (copy) | faultline clone read |"
	       " faultline clone write | clone read vs MAP_PRIVATE | restore to first fault:"
	       " MAP_PRIVATE / copy / clone |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
	       env->clone_around);
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			struct summary *x = s[p][t];

			printf("| %s | %u | %.0f ms (%.0f ns/page) | %.0f ms (%.0f) | **%.0f ms (%.0f)** |"
			       " %.0f ms (%.0f) | %.2fx | %.2f / %.2f / %.2f ms |\n",
			       pattern_names[pats[p]], t + 1, x[0].touch_ms, x[0].ns_per_page, x[1].touch_ms,
			       x[1].ns_per_page, x[2].touch_ms, x[2].ns_per_page, x[3].touch_ms,
			       x[3].ns_per_page, x[2].touch_ms / x[0].touch_ms, x[0].first_fault_ms,
			       x[1].first_fault_ms, x[2].first_fault_ms);
			if (t == 0) {
				static char what[2][80];

				snprintf(what[p], sizeof(what[0]), "%s x1: clone read / MAP_PRIVATE read time",
					 pattern_names[pats[p]]);
				goals[g++] = (struct goal){ what[p], x[2].touch_ms / x[0].touch_ms, 1.5, true };
			}
		}
	}
	/* where the time goes: the agent's reply, the workload's registration, its first touch */
	printf("\nRestore to first fault as the agent saw it (session `timing`, ms from the request:"
	       " reply / registered / first fault served), random x1: copy %.2f / %.2f / %.2f,"
	       " clone %.2f / %.2f / %.2f.\n", s[1][0][1].agent_reply_ms,
	       s[1][0][1].agent_registered_ms, s[1][0][1].agent_first_fault_ms,
	       s[1][0][2].agent_reply_ms, s[1][0][2].agent_registered_ms,
	       s[1][0][2].agent_first_fault_ms);
	goals[g++] = (struct goal){ "clone: restore request to first served fault (ms)",
				    s[1][0][2].first_fault_ms, 5, true };
	*ng += g;
	return bench_restore_delete(&env->spin, keeper);
drop_keeper:
	bench_restore_delete(&env->spin, keeper);
	return -1;
}

static int run_all(struct bench_env *env, unsigned repeat)
{
	static const enum content_pattern pats[] = { CONTENT_SEQ, CONTENT_RANDOM };
	struct summary s[2][2][4], nospin[2][2], wide[2], fa0_spin, fa0_nospin, lazy[2], replay[2];
	struct bench_case c = { .fault_around = 16 };
	struct goal goals[16];
	unsigned ng = 0;

	machine(env, repeat);
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			c.pattern = pats[p];
			c.threads = t + 1;
			c.nospin = false;
			for (unsigned m = 0; m < 4; m++) {
				c.mode = (enum bench_mode)m;
				if (measure(env, &c, repeat, &s[p][t][m]))
					return -1;
			}
			c.mode = BM_FAULTLINE;
			c.nospin = true;
			if (measure(env, &c, repeat, &nospin[p][t]))
				return -1;
		}
	}
	printf("### Time to touch every page (write fault), fault-around 16\n\n"
	       "| pattern | threads | kernel anon | kernel MAP_PRIVATE | minimal handler | faultline |"
	       " vs anon | vs MAP_PRIVATE | vs minimal |\n"
	       "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			struct summary *x = s[p][t];

			printf("| %s | %u | %.0f ms (%.0f ns/page) | %.0f ms (%.0f) | %.0f ms (%.0f) |"
			       " **%.0f ms (%.0f)** | %.2fx | %.2fx | %.1fx |\n",
			       pattern_names[pats[p]], t + 1, x[0].touch_ms, x[0].ns_per_page, x[1].touch_ms,
			       x[1].ns_per_page, x[2].touch_ms, x[2].ns_per_page, x[3].touch_ms,
			       x[3].ns_per_page, x[3].touch_ms / x[0].touch_ms, x[3].touch_ms / x[1].touch_ms,
			       x[2].touch_ms / x[3].touch_ms);
		}
	}
	printf("\n### Fault latency seen by the workload (us; touches that faulted)\n\n"
	       "| pattern | threads | kernel anon p50/p99 | MAP_PRIVATE p50/p99 | minimal p50/p99 |"
	       " faultline p50/p99 | faultline faults | agent read-to-wake p50/p99 |\n"
	       "|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			struct summary *x = s[p][t];

			printf("| %s | %u | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %.1f / %.1f | %.0f |"
			       " %.1f / %.1f |\n",
			       pattern_names[pats[p]], t + 1, x[0].p50_us, x[0].p99_us, x[1].p50_us,
			       x[1].p99_us, x[2].p50_us, x[2].p99_us, x[3].p50_us, x[3].p99_us,
			       x[3].agent_faults, x[3].agent_p50_us, x[3].agent_p99_us);
		}
	}

	if (reads_and_clones(env, repeat, &goals[ng], &ng))
		return -1;

	/* a wider fault-around window: fewer round trips, cheaper pages per ioctl */
	c = (struct bench_case){ .mode = BM_FAULTLINE, .pattern = CONTENT_RANDOM, .fault_around = 64 };
	for (unsigned t = 0; t < 2; t++) {
		c.threads = t + 1;
		if (measure(env, &c, repeat, &wide[t]))
			return -1;
	}
	printf("\n### Fault-around window, random touch\n\n"
	       "| threads | MAP_PRIVATE | faultline, 16 pages | faultline, 64 pages | 64 pages vs MAP_PRIVATE |"
	       " p50 / p99 at 64 pages |\n|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned t = 0; t < 2; t++)
		printf("| %u | %.0f ms | %.0f ms | %.0f ms | %.2fx | %.1f / %.1f us |\n", t + 1,
		       s[1][t][1].touch_ms, s[1][t][3].touch_ms, wide[t].touch_ms,
		       wide[t].touch_ms / s[1][t][1].touch_ms, wide[t].p50_us, wide[t].p99_us);

	/* one page per fault, the minimal handler's own game */
	c = (struct bench_case){ .mode = BM_FAULTLINE, .pattern = CONTENT_RANDOM, .threads = 1 };
	if (measure(env, &c, repeat, &fa0_spin))
		return -1;
	c.nospin = true;
	if (measure(env, &c, repeat, &fa0_nospin))
		return -1;
	printf("\n### Worker spin on/off\n\n"
	       "| case | spin 50 us: time | p50 / p99 | spin off: time | p50 / p99 |\n"
	       "|---|---:|---:|---:|---:|\n");
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++)
			printf("| %s, %u thread%s, fault-around 16 | %.0f ms | %.1f / %.1f us |"
			       " %.0f ms | %.1f / %.1f us |\n",
			       pattern_names[pats[p]], t + 1, t ? "s" : "", s[p][t][3].touch_ms,
			       s[p][t][3].p50_us, s[p][t][3].p99_us, nospin[p][t].touch_ms,
			       nospin[p][t].p50_us, nospin[p][t].p99_us);
	}
	printf("| random, 1 thread, fault-around 0 | %.0f ms | %.1f / %.1f us | %.0f ms |"
	       " %.1f / %.1f us |\n", fa0_spin.touch_ms, fa0_spin.p50_us, fa0_spin.p99_us,
	       fa0_nospin.touch_ms, fa0_nospin.p50_us, fa0_nospin.p99_us);
	printf("\nminimal handler, random, 1 thread: p50 %.1f us, p99 %.1f us.\n", s[1][0][2].p50_us,
	       s[1][0][2].p99_us);

	/* working set: record once, then lazy (off) against replay, two windows */
	printf("\n### Working-set replay (hot10: the same 10%% of the image, random order)\n\n"
	       "| fault-around | | demand faults | pages installed before the workload ran |"
	       " time to first result |\n|---:|---|---:|---:|---:|\n");
	for (unsigned k = 0; k < 2; k++) {
		static const unsigned windows[] = { 0, 16 };

		c = (struct bench_case){ .mode = BM_FAULTLINE, .pattern = CONTENT_HOT10, .threads = 1,
					 .fault_around = windows[k], .working_set = "record" };
		if (measure(env, &c, 1, &lazy[k]))
			return -1;
		c.working_set = "off";
		if (measure(env, &c, repeat, &lazy[k]))
			return -1;
		c.working_set = "replay";
		if (measure(env, &c, repeat, &replay[k]))
			return -1;
		printf("| %u | lazy | %.0f | 0 | %.1f ms |\n| %u | replay | %.0f | %.0f | %.1f ms |\n",
		       windows[k], lazy[k].agent_faults, lazy[k].total_ms, windows[k],
		       replay[k].agent_faults, replay[k].agent_prefetched, replay[k].total_ms);
	}
	printf("\nTime to first result = connect + register (+ replay) + touching the hot set.\n");

	for (unsigned t = 0; t < 2; t++) {
		static const char *const what[] = { "random x1: faultline / MAP_PRIVATE time",
						    "random x2: faultline / MAP_PRIVATE time" };

		goals[ng++] = (struct goal){ what[t], s[1][t][3].touch_ms / s[1][t][1].touch_ms, 1.5, true };
	}
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned t = 0; t < 2; t++) {
			static char what[4][64];

			snprintf(what[p * 2 + t], sizeof(what[0]), "%s x%u: minimal / faultline time",
				 pattern_names[pats[p]], t + 1);
			goals[ng++] = (struct goal){ what[p * 2 + t],
						     s[p][t][2].touch_ms / s[p][t][3].touch_ms, 5, false };
		}
	}
	goals[ng++] = (struct goal){ "demand-fault p50, faultline (1 page/fault) / minimal",
				     fa0_spin.p50_us / s[1][0][2].p50_us, 1.5, true };
	for (unsigned k = 0; k < 2; k++) {
		static const char *const what[] = { "demand faults removed by replay, fault-around 0",
						    "demand faults removed by replay, fault-around 16" };

		goals[ng++] = (struct goal){ what[k], 1.0 - replay[k].agent_faults /
							(lazy[k].agent_faults ? lazy[k].agent_faults : 1),
					     0.9, false };
	}
	print_goals(goals, ng);
	for (unsigned p = 0; p < 2; p++)
		for (unsigned t = 0; t < 2; t++)
			for (unsigned m = 0; m < 4; m++)
				if (s[p][t][m].mismatches)
					printf("\n**%llu wrong pages in %s %s x%u**\n",
					       (unsigned long long)s[p][t][m].mismatches, mode_names[m],
					       pattern_names[pats[p]], t + 1);
	return 0;
}

/* The machine, then the --compare agents run in turn with this one; returns how many. */
static unsigned machine_and_compared(const struct bench_env *env, unsigned repeat)
{
	unsigned n_cmp = !!env->compare_path[0] + !!env->compare_path[1];

	machine(env, repeat);
	for (unsigned k = 0; k < n_cmp; k++)
		printf("Compared: `%s` (faultline) against `%s` (--compare %u), runs in turn.\n\n",
		       env->agent_path, env->compare_path[k], k + 1);
	return n_cmp;
}

/*
 * --scale: how restore time goes with the number of faulting threads (1, 2,
 * 4 on however many CPUs), write and read touches, against the kernel's
 * MAP_PRIVATE fault on the image, which scales with CPUs.  "speed-up" is
 * the x1 time of the same mode over this row's.
 */
static int scale_run(struct bench_env *env, unsigned repeat, bool writes_only)
{
	static const enum content_pattern pats[] = { CONTENT_SEQ, CONTENT_RANDOM };
	static const unsigned threads[] = { 1, 2, 4 };
	/* pattern, read, threads; kernel, faultline, faultline --compare (two at most) */
	struct summary s[2][2][3][4];
	unsigned n_cmp = machine_and_compared(env, repeat), modes = 2 + n_cmp, ng = 0;
	unsigned n_rd = writes_only ? 1 : 2;
	struct goal goals[8];
	static char what[8][72];

	for (unsigned p = 0; p < 2; p++) {
		for (unsigned rd = 0; rd < n_rd; rd++) {
			for (unsigned t = 0; t < 3; t++) {
				const struct bench_case cs[4] = {
					{ .mode = BM_FILE, .pattern = pats[p], .threads = threads[t],
					  .read = rd },
					{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = threads[t],
					  .fault_around = 16, .read = rd },
					{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = threads[t],
					  .fault_around = 16, .read = rd, .other = 1 },
					{ .mode = BM_FAULTLINE, .pattern = pats[p], .threads = threads[t],
					  .fault_around = 16, .read = rd, .other = 2 },
				};

				if (measure_turns(env, cs, modes, repeat, s[p][rd][t]))
					return -1;
			}
		}
	}
	printf("### Faulting threads, fault-around 16\n\n"
	       "| pattern | touch | threads | kernel MAP_PRIVATE | faultline | vs MAP_PRIVATE |"
	       " speed-up over x1: kernel / faultline | faultline p50 / p99 | agent CPU |%s%s\n"
	       "|---|---|---:|---:|---:|---:|---:|---:|---:|%s%s\n",
	       n_cmp > 0 ? " --compare 1 | its agent CPU | faultline / --compare 1 |" : "",
	       n_cmp > 1 ? " --compare 2 | its agent CPU | faultline / --compare 2 |" : "",
	       n_cmp > 0 ? "---:|---:|---:|" : "", n_cmp > 1 ? "---:|---:|---:|" : "");
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned rd = 0; rd < n_rd; rd++) {
			for (unsigned t = 0; t < 3; t++) {
				struct summary *x = s[p][rd][t], *one = s[p][rd][0];

				printf("| %s | %s | %u | %.0f ms | **%.0f ms** | %.2fx | %.2fx / %.2fx |"
				       " %.1f / %.1f us | %.0f ms |", pattern_names[pats[p]],
				       rd ? "read" : "write",
				       threads[t], x[0].touch_ms, x[1].touch_ms, x[1].touch_ms / x[0].touch_ms,
				       one[0].touch_ms / x[0].touch_ms, one[1].touch_ms / x[1].touch_ms,
				       x[1].p50_us, x[1].p99_us, x[1].agent_cpu_ms);
				for (unsigned k = 0; k < n_cmp; k++)
					printf(" %.0f ms | %.0f ms | %.2f |", x[2 + k].touch_ms,
					       x[2 + k].agent_cpu_ms, x[1].touch_ms / x[2 + k].touch_ms);
				printf("\n");
			}
		}
	}
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned rd = 0; rd < n_rd; rd++) {
			snprintf(what[ng], sizeof(what[0]), "%s %s: faultline x1 / x2 time",
				 pattern_names[pats[p]], rd ? "read" : "write");
			goals[ng] = (struct goal){ what[ng], s[p][rd][0][1].touch_ms / s[p][rd][1][1].touch_ms,
						   1.6, false };
			ng++;
		}
	}
	print_goals(goals, ng);
	for (unsigned p = 0; p < 2; p++)
		for (unsigned rd = 0; rd < n_rd; rd++)
			for (unsigned t = 0; t < 3; t++)
				for (unsigned m = 0; m < modes; m++)
					if (s[p][rd][t][m].mismatches)
						printf("\n**%llu wrong pages in %s %s x%u**\n",
						       (unsigned long long)s[p][rd][t][m].mismatches,
						       m == 0 ? "MAP_PRIVATE" : m == 1 ? "faultline" : "--compare",
						       pattern_names[pats[p]], threads[t]);
	return 0;
}

/* --reads: only the read touches and clones table, with its goals */
static int reads_only_run(struct bench_env *env, unsigned repeat)
{
	struct goal goals[4];
	unsigned ng = 0;

	machine(env, repeat);
	if (reads_and_clones(env, repeat, goals, &ng))
		return -1;
	print_goals(goals, ng);
	return 0;
}

/*
 * --replay: only the working-set table (hot10), lazy against replay at
 * fault-around 16 and 0, for this agent and each --compare agent, all runs
 * in turn; with --cold it shows what replay buys when pages come from disk.
 */
static int replay_run(struct bench_env *env, unsigned repeat)
{
	static const unsigned windows[] = { 16, 0 };
	unsigned n_cmp = machine_and_compared(env, repeat);
	struct summary s[2][6];

	for (unsigned w = 0; w < 2; w++) {
		struct bench_case cs[6];
		struct summary rec;

		/* recorded once, by this agent, for all: the file lies beside the image */
		cs[0] = (struct bench_case){ .mode = BM_FAULTLINE, .pattern = CONTENT_HOT10, .threads = 1,
					     .fault_around = windows[w], .working_set = "record" };
		if (measure(env, &cs[0], 1, &rec))
			return -1;
		for (unsigned a = 0; a <= n_cmp; a++) {
			cs[2 * a] = cs[0];
			cs[2 * a].working_set = "off";
			cs[2 * a].other = a;
			cs[2 * a + 1] = cs[2 * a];
			cs[2 * a + 1].working_set = "replay";
		}
		if (measure_turns(env, cs, 2 * (n_cmp + 1), repeat, s[w]))
			return -1;
	}
	printf("### Working-set replay (hot10: the same 10%% of the image, random order)\n\n"
	       "| fault-around | agent | lazy: demand faults | lazy: time to first result |"
	       " replay: demand faults | pages installed before the workload ran |"
	       " replay: time to first result | of it: register + replay / touching |"
	       " replay read | lazy / replay |\n"
	       "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned w = 0; w < 2; w++) {
		for (unsigned a = 0; a <= n_cmp; a++) {
			const struct summary *l = &s[w][2 * a], *r = &s[w][2 * a + 1];
			double reg_ms = r->total_ms - r->touch_ms;

			printf("| %u | %s | %.0f | %.1f ms | %.0f | %.0f | **%.1f ms** | %.1f / %.1f ms |"
			       " %.0f MB/s | %.2fx |\n",
			       windows[w], a ? env->compare_path[a - 1] : "faultline", l->agent_faults,
			       l->total_ms, r->agent_faults, r->agent_prefetched, r->total_ms, reg_ms,
			       r->touch_ms, reg_ms > 0 ? r->agent_prefetched * 4096.0 / 1e3 / reg_ms : 0,
			       l->total_ms / r->total_ms);
			if (l->mismatches || r->mismatches)
				printf("\n**%llu wrong pages**\n",
				       (unsigned long long)(l->mismatches + r->mismatches));
		}
	}
	printf("\nTime to first result = connect + register (+ replay) + touching the hot set."
	       " Replay read: the pages installed before the workload ran over connect + register"
	       " + replay.\n");
	return 0;
}

/* The --compare agents: the same options, their own binaries. */
static int start_compare(struct bench_env *env)
{
	static const char *const names[] = { "compare1", "compare2" };

	for (unsigned k = 0; k < 2 && env->compare_path[k]; k++) {
		struct bench_env other = *env;

		other.agent_path = env->compare_path[k];
		if (bench_agent_start(&env->other[k], &other, names[k], "50"))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char agent[PATH_MAX];
	struct bench_env env = { .size = UINT64_C(1) << 30, .seed = 11, .clone_around = 16 };
	unsigned repeat = 3, clones = 0;
	bool reads_only = false, scale = false, writes_only = false, replay = false;
	char images[192];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc && !content_parse_size(argv[i + 1], &env.size))
			i++;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--agent") && i + 1 < argc)
			env.agent_path = argv[++i];
		else if (!strcmp(argv[i], "--cold"))
			env.cold = true;
		else if (!strcmp(argv[i], "--clones") && i + 1 < argc)
			clones = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--install-helpers") && i + 1 < argc)
			env.install_helpers = argv[++i];
		else if (!strcmp(argv[i], "--reads"))
			reads_only = true;
		else if (!strcmp(argv[i], "--writes"))
			writes_only = true;
		else if (!strcmp(argv[i], "--scale"))
			scale = true;
		else if (!strcmp(argv[i], "--replay"))
			replay = true;
		else if (!strcmp(argv[i], "--compare") && i + 1 < argc && !env.compare_path[1])
			env.compare_path[!!env.compare_path[0]] = argv[++i];
		else if (!strcmp(argv[i], "--clone-around") && i + 1 < argc)
			env.clone_around = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--size SIZE] [--repeat N] [--agent PATH] [--cold]"
				" [--clones N] [--install-helpers N] [--reads] [--scale [--writes] | --replay"
				" [--compare PATH]] [--clone-around N]\n", argv[0]);
			return 2;
		}
	}
	if (!repeat || repeat > MAX_REPEAT || env.size % (2 << 20)) {
		fprintf(stderr, "faultline-bench: --repeat 1..%d, --size a multiple of 2 MiB\n", MAX_REPEAT);
		return 2;
	}
	if (!env.agent_path) {
		ssize_t n = readlink("/proc/self/exe", agent, sizeof(agent) - 32);

		if (n < 0)
			return 1;
		agent[n] = '\0';
		strcpy(strrchr(agent, '/') + 1, "faultline-agent");
		env.agent_path = agent;
	}
	snprintf(env.dir, sizeof(env.dir), "/var/tmp/faultline-bench-XXXXXX");
	if (!mkdtemp(env.dir))
		return 1;
	snprintf(images, sizeof(images), "%s/images", env.dir);
	snprintf(env.image, sizeof(env.image), "%s/bench.img", images);
	fprintf(stderr, "faultline-bench: writing a %llu MiB image in %s\n",
		(unsigned long long)(env.size >> 20), env.dir);
	if (mkdir(images, 0700) || content_write_image(env.image, env.size, env.seed) ||
	    (!env.cold && prewarm(env.image)) || bench_agent_start(&env.spin, &env, "spin", "50") ||
	    bench_agent_start(&env.nospin, &env, "nospin", "0") ||
	    start_compare(&env)) {
		fprintf(stderr, "faultline-bench: setup failed: %s\n", strerror(errno));
		return 1;
	}
	if (clones)
		ret = bench_clones(&env, clones);
	else if (scale)
		ret = scale_run(&env, repeat, writes_only);
	else if (replay)
		ret = replay_run(&env, repeat);
	else if (reads_only)
		ret = reads_only_run(&env, repeat);
	else
		ret = run_all(&env, repeat);
	bench_agent_stop(&env.spin);
	bench_agent_stop(&env.nospin);
	for (unsigned k = 0; k < 2; k++)
		if (env.compare_path[k])
			bench_agent_stop(&env.other[k]);
	unlink(env.image);
	fprintf(stderr, "faultline-bench: done (agent logs in %s)\n", env.dir);
	return ret ? 1 : 0;
}
