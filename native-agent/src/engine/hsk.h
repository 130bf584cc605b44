/*
 * Decoding what workloads send on handoff sockets (PROTOCOL.md §2):
 * the region_register payload of libfaultline and Firecracker's one-shot
 * handshake (a JSON array of guest memory regions).  Pure functions, no
 * system calls and no logging, so the fuzzer runs exactly this code on
 * arbitrary input (tests/fuzz/fuzz_handoff.c).  Every bound is checked
 * here; callers only check what needs the system (the uffd itself).
 */
#ifndef FAULTLINE_HSK_H
#define FAULTLINE_HSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "jx.h"

#define HSK_NAME_MAX 127
#define HSK_LABELS_MAX 64
/* label limits: Kubernetes', the same as the service's (label/LabelLimits.java) */
#define HSK_LABEL_NAME_MAX 63
#define HSK_LABEL_PREFIX_MAX 253
#define HSK_FC_MAX_REGIONS 64
#define HSK_FC_MAX_MESSAGE 65536
/* user addresses stay below this on every 64-bit Linux (5-level paging: 2^56) */
#define HSK_ADDR_LIMIT (UINT64_C(1) << 57)

struct hsk_register {
	const char *name;   /* borrowed from the request */
	json_t *labels;     /* borrowed; NULL when absent */
	uint64_t start, length;
	uint32_t page_size;
	unsigned modes;     /* REGION_MODE_* */
	uint64_t features;
	bool hold;              /* a second uffd, the hold uffd, comes with it */
	uint64_t hold_features;
	bool resume;
	char resume_id[JX_UUID_LEN + 1];
};

struct hsk_fc_region {
	uint64_t base, size, offset;
	uint32_t page_size;
};

bool hsk_page_size_ok(uint64_t ps);
bool hsk_label_ok(const char *key, const char *value);
int hsk_parse_register(json_t *req, uint32_t base_page, struct hsk_register *out, char *why,
		       size_t why_len);
ssize_t hsk_fc_scan(const uint8_t *buf, size_t len);
int hsk_fc_parse(const char *msg, size_t len, uint32_t base_page, struct hsk_fc_region *out,
		 unsigned max, unsigned *n, char *why, size_t why_len);

#endif /* FAULTLINE_HSK_H */
