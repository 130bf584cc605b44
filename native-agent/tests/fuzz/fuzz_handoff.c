/*
 * libFuzzer target for what workloads send on handoff sockets, and for the
 * working-set files the agent reads back.  The first input byte selects:
 *   0: Firecracker's handshake - the stream splitter hsk_fc_scan() on the
 *      bytes, then hsk_fc_parse() on the message it finds;
 *   1: a region_register payload - JSON, then hsk_parse_register();
 *   2: a working-set file - wset_decode(), which must re-encode to the
 *      very bytes it accepted.
 * Beyond memory safety (ASan/UBSan) it checks that whatever is accepted
 * satisfies every bound the agent relies on afterwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsk.h"
#include "region.h"
#include "wset.h"

#define CHECK(cond)                      \
	do {                             \
		if (!(cond))             \
			__builtin_trap(); \
	} while (0)

static void check_range(uint64_t start, uint64_t len, uint64_t ps)
{
	CHECK(hsk_page_size_ok(ps) && ps >= 4096);
	CHECK(len && start % ps == 0 && len % ps == 0);
	CHECK(len <= REGION_MAX_LENGTH && start < HSK_ADDR_LIMIT && len <= HSK_ADDR_LIMIT - start);
}

static void firecracker(const uint8_t *data, size_t size)
{
	struct hsk_fc_region regs[HSK_FC_MAX_REGIONS];
	char why[256];
	ssize_t end = hsk_fc_scan(data, size);
	unsigned n;

	CHECK(end >= -1 && end <= (ssize_t)size && end <= HSK_FC_MAX_MESSAGE);
	if (end <= 0)
		return;
	/* the splitter only balances brackets; the parser judges what is inside */
	CHECK(data[0] == '[' && (data[end - 1] == ']' || data[end - 1] == '}'));
	if (hsk_fc_parse((const char *)data, (size_t)end, 4096, regs, HSK_FC_MAX_REGIONS, &n, why,
			 sizeof(why)))
		return;
	CHECK(n >= 1 && n <= HSK_FC_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		check_range(regs[i].base, regs[i].size, regs[i].page_size);
		CHECK(regs[i].offset % 4096 == 0 && regs[i].offset <= UINT64_MAX - regs[i].size);
		for (unsigned k = 0; k < i; k++)
			CHECK(regs[i].base >= regs[k].base + regs[k].size ||
			      regs[k].base >= regs[i].base + regs[i].size);
	}
}

static void region_register(const uint8_t *data, size_t size)
{
	json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct hsk_register hr;
	char why[256];

	if (!req)
		return;
	if (json_is_object(req) && !hsk_parse_register(req, 4096, &hr, why, sizeof(why))) {
		check_range(hr.start, hr.length, hr.page_size);
		CHECK(hr.modes && !(hr.modes & ~(REGION_MODE_MISSING | REGION_MODE_WP | REGION_MODE_MINOR)));
		CHECK(strlen(hr.name) >= 1 && strlen(hr.name) <= HSK_NAME_MAX);
		CHECK(!hr.resume || jx_uuid_valid(hr.resume_id));
		CHECK(!hr.labels || json_object_size(hr.labels) <= HSK_LABELS_MAX);
	}
	json_decref(req);
}

static void working_set(const uint8_t *data, size_t size)
{
	struct wset w;
	char why[256];
	uint8_t *again;

	if (wset_decode(data, size, &w, why, sizeof(why)))
		return;
	CHECK(wset_encoded_len(w.n) == size);
	for (uint64_t i = 0; i < w.n; i++)
		CHECK(w.runs[i].count && w.runs[i].page * WSET_PAGE < w.ident.image_size + WSET_PAGE);
	again = malloc(size);
	if (!again)
		abort();
	wset_encode(&w, again);
	CHECK(!memcmp(again, data, size));
	free(again);
	wset_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		firecracker(data + 1, size - 1);
		break;
	case 1:
		region_register(data + 1, size - 1);
		break;
	case 2:
		working_set(data + 1, size - 1);
		break;
	}
	return 0;
}
