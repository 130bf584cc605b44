/*
 * Control protocol frame codec.  See proto.h for why this file stays pure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "proto.h"

static const uint8_t magic_bytes[4] = { 'F', 'L', 'C', 'T' };

struct proto_hdr proto_hdr_make(uint8_t type, uint16_t flags, uint64_t id,
				uint32_t length)
{
	struct proto_hdr h = {
		.magic = PROTO_MAGIC,
		.version = PROTO_VERSION,
		.type = type,
		.flags = flags,
		.id = id,
		.length = length,
	};
	return h;
}

/* Encodes the fields verbatim (tests rely on this to forge bad headers). */
void proto_encode_hdr(const struct proto_hdr *h, uint8_t out[PROTO_HDR_LEN])
{
	bytes_put_be32(out, h->magic);
	out[4] = h->version;
	out[5] = h->type;
	bytes_put_be16(out + 6, h->flags);
	bytes_put_be64(out + 8, h->id);
	bytes_put_be32(out + 16, h->length);
	bytes_put_be32(out + 20, h->reserved);
}

/*
 * Magic and version are checked as soon as their bytes are present, not when
 * the whole header is: a peer speaking something else (an HTTP client, a
 * future major version) is told so at once instead of waiting for 24 bytes
 * it may never send.  *h is always fully written; fields not yet decoded are 0.
 */
enum proto_result proto_decode_hdr(const uint8_t *buf, size_t len,
				   uint32_t max_payload, struct proto_hdr *h)
{
	size_t n = len < sizeof(magic_bytes) ? len : sizeof(magic_bytes);

	memset(h, 0, sizeof(*h));
	if (n && memcmp(buf, magic_bytes, n) != 0)
		return PROTO_BAD_MAGIC;
	if (len < 5)
		return PROTO_NEED_MORE;
	h->magic = bytes_get_be32(buf);
	h->version = buf[4];
	if (h->version != PROTO_VERSION)
		return PROTO_BAD_VERSION;
	if (len < PROTO_HDR_LEN)
		return PROTO_NEED_MORE;

	h->type = buf[5];
	h->flags = bytes_get_be16(buf + 6);
	h->id = bytes_get_be64(buf + 8);
	h->length = bytes_get_be32(buf + 16);
	h->reserved = bytes_get_be32(buf + 20);

	if (h->length > max_payload)
		return PROTO_TOO_LARGE;
	if (h->reserved != 0)
		return PROTO_RESERVED;
	if ((h->flags & ~PROTO_F_KNOWN) ||
	    ((h->flags & PROTO_F_ERROR) && !(h->flags & PROTO_F_REPLY)))
		return PROTO_BAD_FLAGS;
	return PROTO_OK;
}

/*
 * Looks at the frame starting at buf.  A non-fatal error is only reported
 * once the whole frame is present, so that the caller can skip exactly it.
 */
enum proto_result proto_next_frame(const uint8_t *buf, size_t len,
				   uint32_t max_payload, struct proto_frame *f)
{
	enum proto_result res;

	memset(f, 0, sizeof(*f));
	f->size = PROTO_HDR_LEN;
	res = proto_decode_hdr(buf, len, max_payload, &f->hdr);
	if (res == PROTO_NEED_MORE || proto_result_is_fatal(res))
		return res;

	f->size = PROTO_HDR_LEN + (size_t)f->hdr.length;
	if (len < f->size)
		return PROTO_NEED_MORE;
	f->payload = buf + PROTO_HDR_LEN;
	return res;
}

bool proto_result_is_fatal(enum proto_result res)
{
	return res == PROTO_BAD_MAGIC || res == PROTO_BAD_VERSION ||
	       res == PROTO_TOO_LARGE;
}

const char *proto_result_str(enum proto_result res)
{
	switch (res) {
	case PROTO_OK:
		return "ok";
	case PROTO_NEED_MORE:
		return "need_more";
	case PROTO_BAD_MAGIC:
		return "bad_magic";
	case PROTO_BAD_VERSION:
		return "bad_version";
	case PROTO_TOO_LARGE:
		return "too_large";
	case PROTO_BAD_FLAGS:
		return "bad_flags";
	case PROTO_RESERVED:
		return "reserved_nonzero";
	}
	return "unknown";
}

enum proto_err proto_result_err(enum proto_result res)
{
	switch (res) {
	case PROTO_BAD_MAGIC:
		return PROTO_E_BAD_MAGIC;
	case PROTO_BAD_VERSION:
		return PROTO_E_BAD_VERSION;
	case PROTO_TOO_LARGE:
		return PROTO_E_FRAME_TOO_LARGE;
	case PROTO_BAD_FLAGS:
	case PROTO_RESERVED:
		return PROTO_E_BAD_FRAME;
	case PROTO_OK:
	case PROTO_NEED_MORE:
		break;
	}
	return PROTO_E_INTERNAL;
}

const char *proto_err_code(enum proto_err err)
{
	static const char *const codes[] = {
		[PROTO_E_BAD_MAGIC] = "BAD_MAGIC",
		[PROTO_E_BAD_VERSION] = "BAD_VERSION",
		[PROTO_E_FRAME_TOO_LARGE] = "FRAME_TOO_LARGE",
		[PROTO_E_BAD_FRAME] = "BAD_FRAME",
		[PROTO_E_BAD_PAYLOAD] = "BAD_PAYLOAD",
		[PROTO_E_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
		[PROTO_E_NOT_NEGOTIATED] = "NOT_NEGOTIATED",
		[PROTO_E_BAD_REQUEST] = "BAD_REQUEST",
		[PROTO_E_INTERNAL] = "INTERNAL",
		[PROTO_E_NOT_FOUND] = "NOT_FOUND",
		[PROTO_E_CONFLICT] = "CONFLICT",
		[PROTO_E_PERMISSION_DENIED] = "PERMISSION_DENIED",
		[PROTO_E_UNAVAILABLE] = "UNAVAILABLE",
		[PROTO_E_NO_SPACE] = "NO_SPACE",
		[PROTO_E_TOO_MANY_CLIENTS] = "TOO_MANY_CLIENTS",
	};

	if ((unsigned)err >= sizeof(codes) / sizeof(codes[0]))
		return "INTERNAL";
	return codes[err];
}

const char *proto_type_name(uint8_t type)
{
	switch (type) {
	case PROTO_T_HELLO:
		return "hello";
	case PROTO_T_PING:
		return "ping";
	case PROTO_T_SHUTDOWN:
		return "shutdown";
	case PROTO_T_REGION_LIST:
		return "region_list";
	case PROTO_T_REGION_GET:
		return "region_get";
	case PROTO_T_REGION_DETACH:
		return "region_detach";
	case PROTO_T_RESTORE_CREATE:
		return "restore_create";
	case PROTO_T_RESTORE_GET:
		return "restore_get";
	case PROTO_T_RESTORE_LIST:
		return "restore_list";
	case PROTO_T_RESTORE_DELETE:
		return "restore_delete";
	case PROTO_T_REGION_REGISTER:
		return "region_register";
	case PROTO_T_REGION_UNREGISTER:
		return "region_unregister";
	case PROTO_T_CLONE_MEMORY:
		return "clone_memory";
	case PROTO_T_REGION_DETACHED:
		return "region_detached";
	case PROTO_T_REGION_MIGRATED:
		return "region_migrated";
	case PROTO_T_MIGRATION_IN:
		return "migration_in";
	case PROTO_T_MIGRATION_OUT:
		return "migration_out";
	case PROTO_T_MIGRATION_GET:
		return "migration_get";
	case PROTO_T_MIGRATION_LIST:
		return "migration_list";
	case PROTO_T_MIGRATION_SWITCHOVER:
		return "migration_switchover";
	case PROTO_T_MIGRATION_PAUSE:
		return "migration_pause";
	case PROTO_T_MIGRATION_RESUME:
		return "migration_resume";
	case PROTO_T_MIGRATION_CANCEL:
		return "migration_cancel";
	case PROTO_T_MIGRATION_DELETE:
		return "migration_delete";
	case PROTO_T_QUIESCE:
		return "quiesce";
	case PROTO_T_SNAPSHOT_TAKE:
		return "snapshot_take";
	case PROTO_T_SNAPSHOT_VERIFY:
		return "snapshot_verify";
	case PROTO_T_SNAPSHOT_DELETE:
		return "snapshot_delete";
	case PROTO_T_SNAPSHOT_CONSOLIDATE:
		return "snapshot_consolidate";
	case PROTO_T_SNAPSHOT_RESTORE:
		return "snapshot_restore";
	case PROTO_T_SNAPSHOT_STATUS:
		return "snapshot_status";
	case PROTO_T_SUBSCRIBE:
		return "subscribe";
	case PROTO_T_EVENT:
		return "event";
	}
	return NULL;
}

/*
 * Makes room for n more bytes without letting the buffer exceed limit.
 * Fails with ENOBUFS when the limit would be crossed (a protocol bound, not
 * an allocation failure) and ENOMEM when allocation fails.
 */
int proto_buf_reserve(struct proto_buf *b, size_t n, size_t limit)
{
	size_t want, cap;
	uint8_t *p;

	if (n > limit || b->len > limit - n) {
		errno = ENOBUFS;
		return -1;
	}
	if (b->cap - b->off - b->len >= n)
		return 0;
	want = b->len + n;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (b->cap >= want)
			return 0;
	}
	cap = b->cap ? b->cap : 256;
	if (cap > limit)
		cap = limit;
	while (cap < want)
		cap = cap > limit / 2 ? limit : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

uint8_t *proto_buf_tail(struct proto_buf *b)
{
	return b->data + b->off + b->len;
}

size_t proto_buf_room(const struct proto_buf *b)
{
	return b->cap - b->off - b->len;
}

void proto_buf_commit(struct proto_buf *b, size_t n)
{
	b->len += n;
}

const uint8_t *proto_buf_head(const struct proto_buf *b)
{
	return b->data + b->off;
}

void proto_buf_consume(struct proto_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

int proto_buf_append(struct proto_buf *b, const void *p, size_t n, size_t limit)
{
	if (!n)
		return 0;
	if (proto_buf_reserve(b, n, limit))
		return -1;
	memcpy(proto_buf_tail(b), p, n);
	b->len += n;
	return 0;
}

/* All or nothing: a frame is never left half-queued. */
int proto_buf_put_frame(struct proto_buf *b, const struct proto_hdr *h,
			const void *payload, size_t limit)
{
	if (proto_buf_reserve(b, PROTO_HDR_LEN + (size_t)h->length, limit))
		return -1;
	proto_encode_hdr(h, proto_buf_tail(b));
	b->len += PROTO_HDR_LEN;
	if (h->length) {
		memcpy(proto_buf_tail(b), payload, h->length);
		b->len += h->length;
	}
	return 0;
}

/* Gives back the memory of a buffer that grew for one large frame. */
void proto_buf_shrink(struct proto_buf *b, size_t keep)
{
	if (b->len || b->cap <= keep)
		return;
	proto_buf_free(b);
}

void proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * Splits the buffered byte stream into frames; this is the whole of the
 * agent's stream parsing.  *need is how many bytes the buffer must hold
 * before the next frame can be decoded (meaningful for PROTO_DRAIN_MORE).
 */
enum proto_drain proto_buf_drain(struct proto_buf *b, uint32_t max_payload,
				 proto_frame_fn fn, void *opaque, size_t *need)
{
	for (;;) {
		struct proto_frame f;
		enum proto_result res;
		int stop;

		*need = PROTO_HDR_LEN;
		if (!b->len)
			return PROTO_DRAIN_MORE;
		res = proto_next_frame(proto_buf_head(b), b->len, max_payload, &f);
		if (res == PROTO_NEED_MORE) {
			*need = f.size;
			return PROTO_DRAIN_MORE;
		}
		stop = fn(opaque, res, &f);
		if (proto_result_is_fatal(res))
			return PROTO_DRAIN_FATAL;
		proto_buf_consume(b, f.size);
		if (stop)
			return PROTO_DRAIN_STOPPED;
	}
}
