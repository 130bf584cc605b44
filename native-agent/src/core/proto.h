/*
 * Control protocol frame codec (PROTOCOL.md §1.1).
 *
 * Pure: no system calls, no logging, no global state, so that the exact code
 * the agent runs on untrusted bytes is what the fuzzer exercises
 * (tests/fuzz/fuzz_proto.c).  Only allocation (proto_buf) touches the heap.
 */
#ifndef FAULTLINE_PROTO_H
#define FAULTLINE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x464C4354u /* "FLCT" */
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 24
#define PROTO_MAX_PAYLOAD (1u << 20)

#define PROTO_F_REPLY 0x0001u
#define PROTO_F_ERROR 0x0002u
#define PROTO_F_KNOWN (PROTO_F_REPLY | PROTO_F_ERROR)

enum proto_type {
	PROTO_T_HELLO = 0x01,
	PROTO_T_PING = 0x02,
	PROTO_T_SHUTDOWN = 0x03,
	/* control socket, PROTOCOL.md §1.8 */
	PROTO_T_REGION_LIST = 0x10,
	PROTO_T_REGION_GET = 0x11,
	PROTO_T_REGION_DETACH = 0x12,
	PROTO_T_RESTORE_CREATE = 0x18,
	PROTO_T_RESTORE_GET = 0x19,
	PROTO_T_RESTORE_LIST = 0x1A,
	PROTO_T_RESTORE_DELETE = 0x1B,
	/* handoff sockets, PROTOCOL.md §2.1 */
	PROTO_T_REGION_REGISTER = 0x20,
	PROTO_T_REGION_UNREGISTER = 0x21,
	PROTO_T_CLONE_MEMORY = 0x22,
	PROTO_T_REGION_DETACHED = 0x28,
	PROTO_T_REGION_MIGRATED = 0x29,
	PROTO_T_QUIESCE = 0x2A,
	/* migration jobs (PROTOCOL.md §1.9) */
	PROTO_T_MIGRATION_IN = 0x30,
	PROTO_T_MIGRATION_OUT = 0x31,
	PROTO_T_MIGRATION_GET = 0x32,
	PROTO_T_MIGRATION_LIST = 0x33,
	PROTO_T_MIGRATION_SWITCHOVER = 0x34,
	PROTO_T_MIGRATION_PAUSE = 0x35,
	PROTO_T_MIGRATION_RESUME = 0x36,
	PROTO_T_MIGRATION_CANCEL = 0x37,
	PROTO_T_MIGRATION_DELETE = 0x38,
	/* snapshots (PROTOCOL.md §1.10) */
	PROTO_T_SNAPSHOT_TAKE = 0x40,
	PROTO_T_SNAPSHOT_VERIFY = 0x41,
	PROTO_T_SNAPSHOT_DELETE = 0x42,
	PROTO_T_SNAPSHOT_CONSOLIDATE = 0x43,
	PROTO_T_SNAPSHOT_RESTORE = 0x44,
	PROTO_T_SNAPSHOT_STATUS = 0x45,
	/* change events (PROTOCOL.md §1.11) */
	PROTO_T_SUBSCRIBE = 0x50,
	PROTO_T_EVENT = 0x51,
};

struct proto_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t id;
	uint32_t length;
	uint32_t reserved;
};

/*
 * Outcome of decoding.  The first three errors are fatal: the stream cannot
 * be resynchronised.  BAD_FLAGS and RESERVED leave a trustworthy length, so
 * the frame can be skipped and answered.
 */
enum proto_result {
	PROTO_OK = 0,
	PROTO_NEED_MORE,
	PROTO_BAD_MAGIC,
	PROTO_BAD_VERSION,
	PROTO_TOO_LARGE,
	PROTO_BAD_FLAGS,
	PROTO_RESERVED,
};

/* Stable error codes of PROTOCOL.md §1.5, in table order. */
enum proto_err {
	PROTO_E_BAD_MAGIC,
	PROTO_E_BAD_VERSION,
	PROTO_E_FRAME_TOO_LARGE,
	PROTO_E_BAD_FRAME,
	PROTO_E_BAD_PAYLOAD,
	PROTO_E_UNKNOWN_TYPE,
	PROTO_E_NOT_NEGOTIATED,
	PROTO_E_BAD_REQUEST,
	PROTO_E_INTERNAL,
	PROTO_E_NOT_FOUND,
	PROTO_E_CONFLICT,
	PROTO_E_PERMISSION_DENIED,
	PROTO_E_UNAVAILABLE,
	PROTO_E_NO_SPACE,
	PROTO_E_TOO_MANY_CLIENTS,
};

struct proto_frame {
	struct proto_hdr hdr;
	const uint8_t *payload; /* hdr.length bytes; valid until the buffer changes */
	size_t size;            /* header + payload; when incomplete: bytes needed */
};

/* Byte queue used for both directions of a connection. */
struct proto_buf {
	uint8_t *data;
	size_t off; /* start of unconsumed bytes */
	size_t len; /* unconsumed bytes */
	size_t cap;
};

enum proto_drain {
	PROTO_DRAIN_MORE,    /* every complete frame was handed over */
	PROTO_DRAIN_STOPPED, /* the callback asked to stop; frames may remain */
	PROTO_DRAIN_FATAL,   /* a fatal frame was handed over; stream unusable */
};

/*
 * Called once per frame.  res is PROTO_OK, a non-fatal error (frame complete
 * and consumed after the call) or a fatal one (not consumed, drain ends).
 * Returns non-zero to stop draining after this frame.
 */
typedef int (*proto_frame_fn)(void *opaque, enum proto_result res,
			      const struct proto_frame *f);

struct proto_hdr proto_hdr_make(uint8_t type, uint16_t flags, uint64_t id,
				uint32_t length);
void proto_encode_hdr(const struct proto_hdr *h, uint8_t out[PROTO_HDR_LEN]);
enum proto_result proto_decode_hdr(const uint8_t *buf, size_t len,
				   uint32_t max_payload, struct proto_hdr *h);
enum proto_result proto_next_frame(const uint8_t *buf, size_t len,
				   uint32_t max_payload, struct proto_frame *f);

bool proto_result_is_fatal(enum proto_result res);
const char *proto_result_str(enum proto_result res);
enum proto_err proto_result_err(enum proto_result res);
const char *proto_err_code(enum proto_err err);
const char *proto_type_name(uint8_t type);

int proto_buf_reserve(struct proto_buf *b, size_t n, size_t limit);
uint8_t *proto_buf_tail(struct proto_buf *b);
size_t proto_buf_room(const struct proto_buf *b);
void proto_buf_commit(struct proto_buf *b, size_t n);
const uint8_t *proto_buf_head(const struct proto_buf *b);
void proto_buf_consume(struct proto_buf *b, size_t n);
int proto_buf_append(struct proto_buf *b, const void *p, size_t n, size_t limit);
int proto_buf_put_frame(struct proto_buf *b, const struct proto_hdr *h,
			const void *payload, size_t limit);
void proto_buf_shrink(struct proto_buf *b, size_t keep);
void proto_buf_free(struct proto_buf *b);
enum proto_drain proto_buf_drain(struct proto_buf *b, uint32_t max_payload,
				 proto_frame_fn fn, void *opaque, size_t *need);

#endif /* FAULTLINE_PROTO_H */
