/*
 * Restore images.
 *
 * The path check resolves symlinks (realpath) and then verifies that the
 * descriptor actually opened is that resolved file, so that swapping a
 * component for a symlink between the check and the open cannot smuggle
 * a file from outside the allowed directories in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"

/*
 * A read of an image mapping past the end of a file truncated meanwhile
 * raises SIGBUS.  The reads are made with this thread's guard set; the
 * handler jumps back to it.  A SIGBUS anywhere else is a bug and keeps its
 * default action (the handler gives it back and the access faults again).
 */
static _Thread_local sigjmp_buf *volatile image_guard;
static pthread_once_t image_sig_once = PTHREAD_ONCE_INIT;

/*
 * A file's bytes for an install are read with pread() into a window of the
 * calling thread, not through the agent's mapping: on VMs whose guest page
 * tables are shadowed by the host (this project's PVM machines) the first
 * touch of each page of a fresh mapping costs a trip to the host, measured
 * at 7-9 us a page against 2.5-3 us for pread plus the copy; the kernel
 * reads the page cache through its own, long-mapped view.  The window is
 * the thread's own (a worker's install round, a helper's piece), reused
 * (its pages stay mapped), and keyed by the image's serial, never by its
 * address, which a later image may reuse.
 */
#define IMAGE_WINDOW_MAX (2u << 20)

struct image_win {
	uint8_t *buf;
	uint64_t serial, off;
	size_t len;
};

static _Thread_local struct image_win image_win;
static atomic_uint_fast64_t image_serials;
static pthread_key_t image_win_key; /* unmaps a thread's window when it ends */
static pthread_once_t image_win_once = PTHREAD_ONCE_INIT;

static void win_unmap(void *buf)
{
	munmap(buf, IMAGE_WINDOW_MAX);
}

static void win_key_make(void)
{
	pthread_key_create(&image_win_key, win_unmap);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *g = image_guard;

	(void)si;
	(void)uc;
	if (g) {
		image_guard = NULL;
		siglongjmp(*g, 1);
	}
	signal(sig, SIG_DFL);
}

static void install_sigbus(void)
{
	/* SA_NODEFER: leaving by siglongjmp must not leave SIGBUS blocked */
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The first reason wins; changed is set after why, so readers of changed see it whole. */
void image_mark_changed(struct image *im, const char *fmt, ...)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	pthread_mutex_lock(&mu);
	if (!atomic_load(&im->changed)) {
		va_start(ap, fmt);
		vsnprintf(im->why, sizeof(im->why), fmt, ap);
		va_end(ap);
		atomic_store(&im->changed, true);
	}
	pthread_mutex_unlock(&mu);
}

static bool inside(const char *path, const char *dir)
{
	char real[PATH_MAX];
	size_t n;

	if (!realpath(dir, real))
		return false;
	n = strlen(real);
	if (n == 1) /* "/" allows everything */
		return true;
	return !strncmp(path, real, n) && path[n] == '/';
}

static bool opened_is(int fd, const char *path)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target, path);
}

enum image_err image_open(const char *path, char *const *dirs, unsigned n_dirs,
			  struct image **out, char *why, size_t why_len)
{
	char real[PATH_MAX];
	struct image *im;
	struct stat st;
	bool allowed = false;
	void *map;
	int fd;

	*out = NULL;
	if (path[0] != '/') {
		snprintf(why, why_len, "image path must be absolute");
		return IMAGE_INVALID;
	}
	if (!realpath(path, real)) {
		snprintf(why, why_len, "image %s: %s", path, strerror(errno));
		/* do not tell what exists outside the allowed directories */
		for (unsigned i = 0; i < n_dirs && !allowed; i++)
			allowed = inside(path, dirs[i]);
		return allowed ? IMAGE_INVALID : IMAGE_DENIED;
	}
	for (unsigned i = 0; i < n_dirs && !allowed; i++)
		allowed = inside(real, dirs[i]);
	if (!allowed) {
		snprintf(why, why_len, "image %s is outside the allowed image directories", path);
		return IMAGE_DENIED;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open image %s: %s", real, strerror(errno));
		return IMAGE_INVALID;
	}
	if (!opened_is(fd, real)) {
		snprintf(why, why_len, "image %s changed while it was opened", real);
		goto close_fd;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(why, why_len, "image %s is not a non-empty regular file", real);
		goto close_fd;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(why, why_len, "cannot map image %s: %s", real, strerror(errno));
		goto close_fd;
	}
	im = calloc(1, sizeof(*im));
	if (!im || !(im->path = strdup(real))) {
		free(im);
		munmap(map, (size_t)st.st_size);
		close(fd);
		snprintf(why, why_len, "out of memory");
		return IMAGE_INTERNAL;
	}
	im->refs = 1;
	im->fd = fd;
	im->size = (uint64_t)st.st_size;
	im->map = map;
	im->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	im->ino = (uint64_t)st.st_ino;
	im->dev = (uint64_t)st.st_dev;
	im->serial = atomic_fetch_add(&image_serials, 1) + 1;
	pthread_once(&image_sig_once, install_sigbus);
	*out = im;
	return IMAGE_OK;

close_fd:
	close(fd);
	return IMAGE_INVALID;
}

/* An image read through ops (which own ctx); one reference. */
struct image *image_new(const struct image_ops *ops, void *ctx, const char *path, uint64_t size,
			uint64_t mtime_ns, uint64_t ino, uint64_t dev)
{
	struct image *im = calloc(1, sizeof(*im));

	if (!im || !(im->path = strdup(path))) {
		free(im);
		return NULL;
	}
	im->refs = 1;
	im->ops = ops;
	im->ctx = ctx;
	im->fd = -1;
	im->size = size;
	im->mtime_ns = mtime_ns;
	im->ino = ino;
	im->dev = dev;
	return im;
}

struct image *image_get(struct image *im)
{
	im->refs++;
	return im;
}

void image_put(struct image *im)
{
	if (!im || --im->refs)
		return;
	if (im->ops) {
		im->ops->close(im);
	} else {
		munmap((void *)im->map, im->size);
		close(im->fd);
	}
	free(im->path);
	free(im);
}

/*
 * Whether the file is still the one opened: size, mtime and inode (fstat
 * on the descriptor sees the file even when its name now points elsewhere;
 * a new file renamed over the name leaves the opened one intact and is not
 * a change of it).  Any thread.
 */
bool image_changed(struct image *im, bool force)
{
	uint64_t now, last;
	struct stat st;

	if (atomic_load_explicit(&im->changed, memory_order_acquire))
		return true;
	now = coarse_ns();
	last = atomic_load_explicit(&im->checked_ns, memory_order_relaxed);
	if (!force && last && now - last < (uint64_t)IMAGE_CHECK_MS * 1000000u)
		return false;
	atomic_store_explicit(&im->checked_ns, now ? now : 1, memory_order_relaxed);
	if (im->ops) {
		im->ops->check(im);
	} else if (fstat(im->fd, &st)) {
		image_mark_changed(im, "cannot stat it: %s", strerror(errno));
	} else if ((uint64_t)st.st_size != im->size) {
		image_mark_changed(im, "its size went from %llu to %llu bytes", (unsigned long long)im->size,
			     (unsigned long long)st.st_size);
	} else if ((uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec !=
		   im->mtime_ns || (uint64_t)st.st_ino != im->ino) {
		image_mark_changed(im, "it was written to (mtime %llu ns, now %llu ns)",
			     (unsigned long long)im->mtime_ns,
			     (unsigned long long)st.st_mtim.tv_sec * 1000000000u +
				     (unsigned long long)st.st_mtim.tv_nsec);
	}
	return atomic_load(&im->changed);
}

const char *image_change_why(struct image *im)
{
	return atomic_load(&im->changed) ? im->why : "";
}

/* The bytes at off in this thread's window, if it holds all len of them. */
static const uint8_t *in_window(const struct image *im, uint64_t off, size_t len)
{
	const struct image_win *w = &image_win;

	if (!im->serial || w->serial != im->serial || off < w->off || off - w->off > w->len ||
	    len > w->len - (off - w->off))
		return NULL;
	return w->buf + (off - w->off);
}

/*
 * Reads [off, off + len) of a file (at most IMAGE_WINDOW_MAX bytes of it)
 * into this thread's window, for the image_zero() and image_bytes() calls
 * of an install that follow on this thread.  -1 when nothing was read (an
 * image with ops, no memory, a short read): those calls then use the
 * mapping as before, and tell of a truncation.
 */
int image_window(struct image *im, uint64_t off, size_t len)
{
	struct image_win *w = &image_win;
	ssize_t got;

	if (im->ops || off >= im->size)
		return -1;
	if (len > im->size - off)
		len = (size_t)(im->size - off);
	if (len > IMAGE_WINDOW_MAX)
		len = IMAGE_WINDOW_MAX;
	if (!w->buf) {
		void *b = mmap(NULL, IMAGE_WINDOW_MAX, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		pthread_once(&image_win_once, win_key_make);
		if (b == MAP_FAILED)
			return -1;
		if (pthread_setspecific(image_win_key, b)) {
			munmap(b, IMAGE_WINDOW_MAX);
			return -1;
		}
		w->buf = b;
	}
	w->serial = 0;
	do
		got = pread(im->fd, w->buf, len, (off_t)off);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)len)
		return -1;
	w->serial = im->serial;
	w->off = off;
	w->len = len;
	return 0;
}

/*
 * All-zero test for a page about to be installed.  Data pages almost always
 * differ in their first word, so the common case costs one load; the page
 * is read into the cache anyway by the copy that follows.  A page gone
 * from a truncated file is not zero: the image is marked changed, and the
 * copy that follows fails (EFAULT).
 */
bool image_zero(struct image *im, uint64_t off, size_t len)
{
	const uint8_t *p;
	sigjmp_buf jb;
	uint64_t w;
	bool zero = true;

	if (off >= im->size)
		return true;
	if (len > im->size - off)
		len = (size_t)(im->size - off);
	if (im->ops)
		return im->ops->zero(im, off, len);
	p = in_window(im, off, len);
	if (p)
		return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
	p = im->map + off;
	if (sigsetjmp(jb, 0)) {
		image_mark_changed(im, "it was truncated (a read at offset %llu faulted; %llu bytes at open)",
			     (unsigned long long)off, (unsigned long long)im->size);
		return false;
	}
	image_guard = &jb;
	/* the reads below must not move out of the guarded stretch */
	atomic_signal_fence(memory_order_seq_cst);
	if (len < sizeof(w)) {
		for (size_t i = 0; i < len && zero; i++)
			zero = !p[i];
	} else {
		memcpy(&w, p, sizeof(w));
		/* zero first word and every byte equal to the one 8 before it: all zero */
		zero = !w && !memcmp(p, p + sizeof(w), len - sizeof(w));
	}
	atomic_signal_fence(memory_order_seq_cst);
	image_guard = NULL;
	return zero;
}

/*
 * The bytes at off, for an install to copy from: at most len of them, *avail
 * contiguous.  A file's are this thread's window (image_window; valid until
 * the thread's next image_window or image_bytes), else its mapping (the
 * copy's EFAULT tells of a truncation); an image with ops reads and checks
 * them (NULL: it is marked changed, with the reason).
 */
const uint8_t *image_bytes(struct image *im, uint64_t off, size_t len, size_t *avail)
{
	const uint8_t *p;

	if (im->ops)
		return im->ops->bytes(im, off, len, avail);
	*avail = len;
	p = in_window(im, off, len);
	/* a piece of an install run by a helper: read into its own window (all of it) */
	if (!p && len <= IMAGE_WINDOW_MAX && len <= im->size - off && !image_window(im, off, len))
		p = image_win.buf;
	return p ? p : im->map + off;
}

/*
 * Asks the kernel to read [off, off + len) of a file into the page cache
 * (any thread): the reads are queued and this returns, unless the disk's
 * queue is full, when it waits for room.  -1 with errno (EOPNOTSUPP: an
 * image read through its ops, whose files are not this one).
 */
int image_readahead(struct image *im, uint64_t off, uint64_t len)
{
	int err;

	if (im->ops) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (off >= im->size)
		return 0;
	if (len > im->size - off)
		len = im->size - off;
	err = posix_fadvise(im->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* len bytes at off into buf (any thread, never through the mapping); -1 with errno. */
int image_read(struct image *im, uint64_t off, void *buf, size_t len)
{
	uint8_t *to = buf;

	if (off > im->size || len > im->size - off) {
		errno = EIO;
		return -1;
	}
	while (len) {
		size_t n;

		if (im->ops) {
			const uint8_t *p = im->ops->bytes(im, off, len, &n);

			if (!p) {
				errno = EIO;
				return -1;
			}
			memcpy(to, p, n);
		} else {
			ssize_t got = pread(im->fd, to, len, (off_t)off);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				if (!got)
					errno = EIO;
				return -1;
			}
			n = (size_t)got;
		}
		to += n;
		off += n;
		len -= n;
	}
	return 0;
}
