/*
 * region_list and restore_list in pages (PROTOCOL.md §1.3): a list whose one
 * reply would be beyond max_payload (thousands of regions, or sessions with
 * many long labels) is read in full page by page, every item once, in id
 * order; a request without paging fields still gets one reply, or a clear
 * error once that cannot be encoded.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "faultline.h"
#include "harness.h"
#include "hwork.h"
#include "test.h"

#define SESSIONS 72 /* of ~17 KiB each: ~1.2 MiB in all, beyond max_payload */
#define REGIONS 3

/* 64 labels with long keys and values: as large as the label limits allow. */
static json_t *big_labels(void)
{
	char prefix[200], key[256], value[64];
	json_t *labels = json_object();

	/* a DNS subdomain of three 60-character parts */
	snprintf(prefix, sizeof(prefix), "%.60s.%.60s.%.60s.io",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	memset(value, 'v', 63);
	value[63] = '\0';
	for (int i = 0; labels && i < 64; i++) {
		snprintf(key, sizeof(key), "%s/k%02d", prefix, i);
		if (json_object_set_new(labels, key, json_string(value))) {
			json_decref(labels);
			return NULL;
		}
	}
	return labels;
}

/*
 * Reads `type`'s list page by page (limit 0: none asked) and checks the ids
 * strictly ascend and each page's "next" is its last id; the count of items
 * and pages in *items and *pages.
 */
static int read_pages(int ctl, uint8_t type, const char *key, int limit, size_t *items, size_t *pages)
{
	char after[64] = "";
	json_t *next;

	*items = *pages = 0;
	do {
		json_t *v = limit ? h_call(ctl, type, "{s:s, s:i}", "after", after, "limit", limit)
				  : h_call(ctl, type, "{s:s}", "after", after);
		json_t *list = json_object_get(v, key), *item;
		size_t i;

		next = json_object_get(v, "next");
		if (!v || !json_is_array(list) || !(json_is_null(next) || json_is_string(next))) {
			printf("    page %zu after \"%s\": no list or no \"next\"\n", *pages, after);
			json_decref(v);
			return -1;
		}
		if (json_is_string(next) && (!json_array_size(list) || (limit && (int)json_array_size(list) != limit))) {
			printf("    page %zu: %zu items and more to come\n", *pages, json_array_size(list));
			json_decref(v);
			return -1;
		}
		json_array_foreach(list, i, item) {
			const char *id = json_string_value(json_object_get(item, "id"));

			if (!id || strcmp(id, after) <= 0) {
				printf("    page %zu: id %s does not follow %s\n", *pages, id ? id : "(none)", after);
				json_decref(v);
				return -1;
			}
			snprintf(after, sizeof(after), "%s", id);
			(*items)++;
		}
		if (json_is_string(next) && strcmp(json_string_value(next), after)) {
			printf("    page %zu: next %s, last id %s\n", *pages, json_string_value(next), after);
			json_decref(v);
			return -1;
		}
		(*pages)++;
		next = json_is_string(next) ? next : NULL;
		json_decref(v);
	} while (next);
	return 0;
}

int t_lists_in_pages(const struct t_env *env)
{
	struct h_agent a;
	char image[256], id[40], handoff[256];
	fl_region *regions[REGIONS];
	size_t items, pages;
	json_t *labels, *v;
	fl_client *c;
	uint8_t *mem;
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "vm.mem", 1 << 20, 7, image, sizeof(image)));
	CHECK((labels = big_labels()) != NULL);
	/* created in descending id order: the pages are in id order, not the agent's */
	for (int i = SESSIONS - 1; i >= 0; i--) {
		snprintf(id, sizeof(id), "%08x-1111-4111-8111-%012x", i, i);
		v = h_call(ctl, PROTO_T_RESTORE_CREATE, "{s:s, s:s, s:O, s:i}", "id", id, "image", image,
			   "labels", labels, "populate_delay_ms", -1);
		CHECKF(v != NULL, "restore_create %d", i);
		json_decref(v);
	}
	json_decref(labels);

	/* all at once is beyond max_payload: a clear error, and the agent goes on */
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_LIST, "INTERNAL", "{}"));
	/* in pages bounded by size: every session once */
	CHECK_OK(read_pages(ctl, PROTO_T_RESTORE_LIST, "restores", 0, &items, &pages));
	CHECKF(items == SESSIONS && pages >= 2, "%zu sessions in %zu pages", items, pages);
	/* and by a limit */
	CHECK_OK(read_pages(ctl, PROTO_T_RESTORE_LIST, "restores", 8, &items, &pages));
	CHECKF(items == SESSIONS && pages == (SESSIONS + 7) / 8, "%zu sessions in %zu pages", items, pages);
	/* past the last id: an empty page, the end */
	v = h_call(ctl, PROTO_T_RESTORE_LIST, "{s:s}", "after", "ffffffff");
	CHECK(v && json_array_size(json_object_get(v, "restores")) == 0 &&
	      json_is_null(json_object_get(v, "next")));
	json_decref(v);

	/* regions page the same way */
	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", a.state);
	CHECK((c = fl_connect(handoff)) != NULL);
	mem = mmap(NULL, REGIONS << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	for (int i = 0; i < REGIONS; i++)
		CHECKF(!fl_region_register(c, mem + (i << 16), 1 << 16, "paged", NULL, FL_MODE_MISSING,
					   &regions[i]), "%s", fl_last_error());
	CHECK_OK(read_pages(ctl, PROTO_T_REGION_LIST, "regions", 1, &items, &pages));
	CHECKF(items == REGIONS && pages == REGIONS, "%zu regions in %zu pages", items, pages);
	v = h_call(ctl, PROTO_T_REGION_LIST, "{}");
	CHECK(v && json_array_size(json_object_get(v, "regions")) == REGIONS &&
	      !json_object_get(v, "next"));
	json_decref(v);
	for (int i = 0; i < REGIONS; i++)
		CHECK_OK(fl_region_unregister(regions[i]));
	fl_disconnect(c);
	munmap(mem, REGIONS << 16);

	/* bad paging fields are refused, not guessed at */
	CHECK_OK(h_call_error(ctl, PROTO_T_REGION_LIST, "BAD_REQUEST", "{s:i}", "after", 5));
	CHECK_OK(h_call_error(ctl, PROTO_T_REGION_LIST, "BAD_REQUEST", "{s:i}", "limit", 0));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_LIST, "BAD_REQUEST", "{s:s}", "limit", "all"));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_LIST, "BAD_REQUEST", "{s:i}", "limit", 10001));
	CHECK_OK(h_ping(ctl, 99));
	close(ctl);
	return T_PASS;
}
