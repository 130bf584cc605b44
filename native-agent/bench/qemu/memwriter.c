/*
 * memwriter: the init of the tiny guest that qemu-postcopy-bench migrates.
 *
 * It is the guest-side twin of the write load that the Faultline migration
 * benchmark puts on its region: one buffer of fl_mib MiB whose pages are
 * dirtied in order, pass after pass, either as fast as the (emulated) CPU
 * goes or at fl_rate pages per second.  Both settings arrive as kernel
 * command line words (fl_mib=2048 fl_rate=51200), which the kernel hands to
 * init as environment variables.
 *
 * Every page carries a pattern derived from its index and the pass that last
 * wrote it, so the guest can check its own memory after a migration: a dirty
 * page that the migration lost shows up as a page holding an older pass than
 * the writer's position says it must.  This checks the destination against
 * what the workload wrote, which stays sound while the destination runs; a
 * byte-for-byte comparison of source and destination RAM would not be, as
 * the destination keeps writing after the switchover.
 *
 * The host talks to it over the first serial port, one byte per command:
 *   'h'  hold: stop writing, print FLHOLD, check every page, print FLVERIFY
 *   'r'  resume writing where it held
 *   's'  status: print FLSTATUS and go on writing (the host derives the rate)
 * and it prints, each on a line of its own:
 *   FLREADY pages=N                      the first pass has touched every page
 *   FLHOLD pass=P cursor=K written=W ns=T
 *   FLSTATUS written=W ns=T              pages written and guest ns since FLREADY
 *   FLVERIFY pages=N bad=B first_bad=I   I is -1 when B is 0
 *
 * A busy pass rewrites the first 64 bytes (one cache line) of each page:
 * that dirties the page for the migration at the lowest guest CPU cost,
 * which matters under TCG.  The first pass fills whole pages.
 *
 * Built with gcc -static by the harness; it is PID 1 and never exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 4096u
#define PAGE_WORDS (PAGE_SIZE / sizeof(uint64_t))
#define LINE_WORDS 8u
#define MAGIC 0x46554c544c494e45ull /* "FULTLINE" */
/* pages between two looks at the clock, and between two looks at the serial
 * port (a read() costs as much as dozens of page writes under TCG) */
#define BATCH 64u
#define COMMAND_EVERY 1024u
/* a paced writer that fell behind (a migration pause) catches up at most this much */
#define MAX_BACKLOG_NS 10000000ll

static int tty = -1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	for (int off = 0; off < n;) {
		ssize_t w = write(tty, line + off, (size_t)(n - off));

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		off += (int)w;
	}
}

/* splitmix64: cheap, and different for every (page, pass, word) */
static inline uint64_t mix(uint64_t page, uint64_t pass, uint64_t word)
{
	uint64_t z = page * 0x9e3779b97f4a7c15ull + pass * 0xbf58476d1ce4e5b9ull + word;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void write_line(uint64_t *p, uint64_t page, uint64_t pass)
{
	p[0] = MAGIC;
	p[1] = page;
	p[2] = pass;
	for (unsigned w = 3; w < LINE_WORDS; w++)
		p[w] = mix(page, pass, w);
}

static int line_ok(const uint64_t *p, uint64_t page, uint64_t pass)
{
	if (p[0] != MAGIC || p[1] != page || p[2] != pass)
		return 0;
	for (unsigned w = 3; w < LINE_WORDS; w++)
		if (p[w] != mix(page, pass, w))
			return 0;
	return 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 0)
		return dflt;
	return n;
}

static void open_console(void)
{
	struct termios t;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	tty = open("/dev/ttyS0", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tty < 0)
		tty = open("/dev/console", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tty < 0)
		for (;;)
			pause(); /* nobody to talk to: the harness times out and says so */
	/* raw: commands are single bytes, and nothing is echoed into our markers */
	if (tcgetattr(tty, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(tty, TCSANOW, &t);
	}
}

static int command(void)
{
	char c;

	for (;;) {
		ssize_t n = read(tty, &c, 1);

		if (n == 1 && (c == 'h' || c == 'r' || c == 's'))
			return c;
		if (n == 1)
			continue; /* line noise, a newline: ignore */
		return 0;
	}
}

/* The writer's position: pages [0, cursor) hold `pass`, the rest pass - 1. */
static void verify(const uint8_t *buf, uint64_t pages, uint64_t pass, uint64_t cursor)
{
	uint64_t bad = 0;
	int64_t first_bad = -1;

	for (uint64_t i = 0; i < pages; i++) {
		const uint64_t *p = (const uint64_t *)(buf + i * PAGE_SIZE);
		uint64_t want = i < cursor ? pass : pass - 1;
		int ok = line_ok(p, i, want);

		/* the rest of the page still holds what the first pass wrote */
		for (unsigned w = LINE_WORDS; ok && w < PAGE_WORDS; w++)
			ok = p[w] == mix(i, 0, w);
		if (!ok) {
			if (first_bad < 0)
				first_bad = (int64_t)i;
			bad++;
		}
	}
	say("FLVERIFY pages=%llu bad=%llu first_bad=%lld\n", (unsigned long long)pages,
	    (unsigned long long)bad, (long long)first_bad);
}

static void hold(const uint8_t *buf, uint64_t pages, uint64_t pass, uint64_t cursor,
		 uint64_t written, int64_t ns)
{
	say("FLHOLD pass=%llu cursor=%llu written=%llu ns=%lld\n", (unsigned long long)pass,
	    (unsigned long long)cursor, (unsigned long long)written, (long long)ns);
	verify(buf, pages, pass, cursor);
	for (;;) {
		struct timespec nap = { 0, 1000000 };

		if (command() == 'r')
			return;
		nanosleep(&nap, NULL);
	}
}

int main(void)
{
	uint64_t pages, pass = 0, cursor = 0, written = 0;
	long mib, rate;
	int64_t start, paced_from;
	uint64_t paced_pages = 0;
	uint8_t *buf;

	open_console();
	mib = env_long("fl_mib", 256);
	rate = env_long("fl_rate", 0);
	pages = (uint64_t)mib * (1024 * 1024 / PAGE_SIZE);
	buf = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		say("FLERROR mmap %ld MiB: %s\n", mib, strerror(errno));
		for (;;)
			pause();
	}

	/* pass 0 fills whole pages, so that verify() can check all of each */
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t *p = (uint64_t *)(buf + i * PAGE_SIZE);

		write_line(p, i, 0);
		for (unsigned w = LINE_WORDS; w < PAGE_WORDS; w++)
			p[w] = mix(i, 0, w);
	}
	pass = 1;
	say("FLREADY pages=%llu\n", (unsigned long long)pages);

	start = paced_from = now_ns();
	for (;;) {
		for (unsigned b = 0; b < BATCH; b++) {
			write_line((uint64_t *)(buf + cursor * PAGE_SIZE), cursor, pass);
			if (++cursor == pages) {
				cursor = 0;
				pass++;
			}
		}
		written += BATCH;
		paced_pages += BATCH;

		switch (written % COMMAND_EVERY == 0 ? command() : 0) {
		case 'h':
			hold(buf, pages, pass, cursor, written, now_ns() - start);
			paced_from = now_ns();
			paced_pages = 0;
			break;
		case 's':
			say("FLSTATUS written=%llu ns=%lld\n", (unsigned long long)written,
			    (long long)(now_ns() - start));
			break;
		}
		if (rate > 0) {
			int64_t due = paced_from + (int64_t)(paced_pages * 1000000000ull / (uint64_t)rate);
			int64_t now = now_ns();

			if (now < due) {
				struct timespec nap = { (due - now) / 1000000000ll,
							(due - now) % 1000000000ll };

				nanosleep(&nap, NULL);
			} else if (now - due > MAX_BACKLOG_NS) {
				paced_from = now - MAX_BACKLOG_NS;
				paced_pages = 0;
			}
		}
	}
}
