/*
 * Install helpers: threads that run the install ioctls of one install call
 * beside the worker that made it, so that the copying of one region scales
 * with CPUs while the region still has one worker (fault.h).
 *
 * Why the worker stays the only reader and the only one to touch the page
 * maps: the kernel lets a REMOVE/UNMAP/REMAP go on (and zap the range) as
 * soon as its event has been read, and an install that passed the kernel's
 * mmap_changing check after that read, with a plan made before the event
 * was applied, would put image bytes into a page that must read zero.  A
 * uffd's reads must therefore never overlap an install into it.  So the
 * worker plans an install (which pages, zero or image, protected or not)
 * from its maps, hands the pieces to crew_run(), which returns only when
 * every piece has ended, and accounts the results itself: between two reads
 * the installs run in parallel, and no read ever overlaps one.  A wait is
 * bounded by one piece (a fault-around window, or a background chunk, split).
 *
 * The caller always runs pieces itself, the first one first (the demand
 * page), and helpers take the others when they are awake: a helper asleep
 * costs the caller nothing but the parallelism.  A helper spins for a while
 * after a piece (the next fault is usually near: while its thread waits
 * for the install it needs no CPU), then sleeps.
 */
#ifndef FAULTLINE_CREW_H
#define FAULTLINE_CREW_H

#include <stdint.h>

struct log;
struct crew;

typedef void (*crew_fn)(void *ctx, unsigned i);

struct crew *crew_start(struct log *lg, unsigned helpers, unsigned spin_us);
void crew_stop(struct crew *c);
unsigned crew_helpers(const struct crew *c);
void crew_run(struct crew *c, crew_fn fn, void *ctx, unsigned n);
/* pieces helpers ran (tests, stats) */
uint64_t crew_helped(const struct crew *c);

#endif /* FAULTLINE_CREW_H */
