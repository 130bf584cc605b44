/*
 * The page channel (PROTOCOL.md §3): TCP between two agents, one job per
 * connection.  This module is the frame codec (pure: no syscalls, fuzzed),
 * the challenge-response that proves both ends hold the job's secret, and
 * small blocking I/O helpers the migration threads use.
 *
 * A migration opens two connections from the source to the destination:
 * the main channel (precopy and background pages, the stale bitmap,
 * acknowledgements) and the preempt channel (demand requests and their
 * pages only), so that a demand page never queues behind megabytes of
 * background pages in the main connection's socket buffers (QEMU's
 * postcopy-preempt does the same).
 */
#ifndef FAULTLINE_PCHAN_H
#define FAULTLINE_PCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCHAN_MAGIC 0x464C5043u /* "FLPC" */
#define PCHAN_VERSION 1
#define PCHAN_HDR_LEN 32
#define PCHAN_MAX_PAYLOAD (1u << 20)
#define PCHAN_NONCE_LEN 32
#define PCHAN_MAC_LEN 32
#define PCHAN_SECRET_LEN 32
#define PCHAN_ID_LEN 36 /* a migration id: a UUID in text */
#define PCHAN_HELLO_LEN (4 + PCHAN_ID_LEN + 1 + 3 + PCHAN_NONCE_LEN)
#define PCHAN_MAX_DEMAND 64 /* pages one demand request may ask for */

enum pchan_type {
	PCHAN_T_HELLO = 0x01,     /* src -> dst: migration id, channel kind, client nonce */
	PCHAN_T_CHALLENGE = 0x02, /* dst -> src: server nonce */
	PCHAN_T_AUTH = 0x03,      /* src -> dst: client proof */
	PCHAN_T_AUTH_OK = 0x04,   /* dst -> src: server proof; seq = last data seq processed */
	PCHAN_T_ERROR = 0x05,     /* either: UTF-8 text, then close */
	PCHAN_T_SETUP = 0x10,     /* src -> dst: region geometry */
	PCHAN_T_PAGES = 0x11,     /* src -> dst: count pages of data from page */
	PCHAN_T_ZERO = 0x12,      /* src -> dst: count pages from page read as zero */
	PCHAN_T_STALE = 0x13,     /* src -> dst: bitmap of staged pages that are stale */
	PCHAN_T_SWITCHOVER = 0x14, /* src -> dst: the source holds; postcopy starts */
	PCHAN_T_ACK = 0x15,       /* dst -> src: every data frame up to seq is staged */
	PCHAN_T_DONE = 0x16,      /* dst -> src: the destination holds every page */
	PCHAN_T_COMPLETE = 0x17,  /* src -> dst: the source saw DONE and releases */
	PCHAN_T_REQUEST = 0x20,   /* dst -> src (preempt): demand pages */
	PCHAN_T_PAGES_Z = 0x18,   /* src -> dst: count pages of data from page, one zstd frame */
	PCHAN_T_CURRENT = 0x19,   /* src -> dst (main, after SWITCHOVER): their staged copy is current */
};

/* auth_ok's count: what the destination takes beyond version 1's frames (older ones send 0) */
#define PCHAN_CAP_CURRENT 0x1u /* `current` frames */
#define PCHAN_CAP_PUSH 0x2u    /* the 16-byte SETUP, frames in seq order, push connections */
#define PCHAN_CAP_PUSH_SHIFT 8 /* bits 8-10: how many push connections it takes (0-7) */
#define PCHAN_CAP_PUSH_MASK 0x7u
#define PCHAN_CAPS (PCHAN_CAP_CURRENT | PCHAN_CAP_PUSH)

#define PCHAN_MAX_PUSH 7 /* push connections beside the main channel */
#define PCHAN_SETUP_LEN 16 /* length (8), page size (4), connections that push (4) */
#define PCHAN_SETUP_LEN_V1 12 /* from sources before push connections: no count */

/*
 * A connection's kind, in hello: the main channel, the preempt channel, or
 * push connection i (1..PCHAN_MAX_PUSH) as kind PCHAN_PUSH + i - 1.
 */
enum pchan_kind { PCHAN_MAIN = 0, PCHAN_PREEMPT = 1, PCHAN_PUSH = 2 };
#define PCHAN_KIND_LAST (PCHAN_PUSH + PCHAN_MAX_PUSH - 1)

struct pchan_hdr {
	uint8_t type;
	uint16_t flags;
	uint64_t seq;   /* main channel data frames: the source's sequence number */
	uint64_t page;  /* first page */
	uint32_t count; /* pages */
	uint32_t length; /* payload bytes */
};

enum pchan_result {
	PCHAN_OK = 0,
	PCHAN_NEED_MORE,
	PCHAN_BAD_MAGIC,
	PCHAN_BAD_VERSION,
	PCHAN_TOO_LARGE,
	PCHAN_BAD_FLAGS,
	PCHAN_BAD_TYPE,
	PCHAN_BAD_SHAPE, /* count/length do not fit the type */
};

/* What a frame must look like, given the region (0 before SETUP). */
struct pchan_geom {
	uint64_t n_pages;
	uint32_t page_size;
};

void pchan_encode_hdr(const struct pchan_hdr *h, uint8_t out[PCHAN_HDR_LEN]);
enum pchan_result pchan_decode_hdr(const uint8_t *buf, size_t len, struct pchan_hdr *h);
enum pchan_result pchan_check(const struct pchan_hdr *h, const struct pchan_geom *g);
const char *pchan_result_str(enum pchan_result r);
const char *pchan_type_name(uint8_t type);
const char *pchan_kind_name(enum pchan_kind kind);

struct pchan_hello {
	char id[PCHAN_ID_LEN + 1];
	enum pchan_kind kind;
	uint8_t nonce[PCHAN_NONCE_LEN];
};

void pchan_encode_hello(const struct pchan_hello *h, uint8_t out[PCHAN_HELLO_LEN]);
int pchan_decode_hello(const uint8_t *buf, size_t len, struct pchan_hello *h);

int pchan_mac(const uint8_t secret[PCHAN_SECRET_LEN], bool server, const char *id,
	      enum pchan_kind kind, const uint8_t cnonce[PCHAN_NONCE_LEN],
	      const uint8_t snonce[PCHAN_NONCE_LEN], uint8_t out[PCHAN_MAC_LEN]);
bool pchan_mac_equal(const uint8_t *a, const uint8_t *b);
int pchan_nonce(uint8_t out[PCHAN_NONCE_LEN]);
int pchan_parse_secret(const char *hex, uint8_t out[PCHAN_SECRET_LEN]);

/* ---- blocking I/O for the migration threads (over ptls.h) --------------- */

struct ptls_conn;

int pchan_send(struct ptls_conn *c, const struct pchan_hdr *h, const void *payload);
int pchan_sendv(struct ptls_conn *c, const struct pchan_hdr *h, const void *a, size_t alen,
		const void *b, size_t blen);
int pchan_recv(struct ptls_conn *c, struct pchan_hdr *h, void *payload, size_t cap,
	       const struct pchan_geom *g, int timeout_ms);
int pchan_recv_hdr(struct ptls_conn *c, struct pchan_hdr *h, const struct pchan_geom *g,
		   int timeout_ms);
int pchan_recv_payload(struct ptls_conn *c, void *buf, size_t len, int timeout_ms);
int pchan_connect(const char *addr, int timeout_ms);
int pchan_listen(const char *addr, char *bound, size_t bound_len);

#endif /* FAULTLINE_PCHAN_H */
