/*
 * Handoff message decoding; see hsk.h.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "hsk.h"
#include "region.h"

#define FAIL(...)                                    \
	do {                                         \
		snprintf(why, why_len, __VA_ARGS__); \
		return -1;                           \
	} while (0)

/* A power of two from 4 KiB to 1 GiB (x86-64 and arm64 huge page sizes). */
bool hsk_page_size_ok(uint64_t ps)
{
	return ps >= 4096 && ps <= (UINT64_C(1) << 30) && !(ps & (ps - 1));
}

static int get_u64(json_t *obj, const char *key, bool required, uint64_t *out, char *why,
		   size_t why_len)
{
	json_t *v = json_object_get(obj, key);

	if (!v && !required)
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		FAIL("\"%s\" must be a non-negative integer", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int check_range(uint64_t start, uint64_t length, uint64_t ps, char *why, size_t why_len)
{
	if (!length)
		FAIL("the range is empty");
	if (start % ps || length % ps)
		FAIL("the range is not aligned to its page size %llu", (unsigned long long)ps);
	if (length > REGION_MAX_LENGTH)
		FAIL("the range is larger than %llu bytes", (unsigned long long)REGION_MAX_LENGTH);
	if (start >= HSK_ADDR_LIMIT || length > HSK_ADDR_LIMIT - start)
		FAIL("the range is not a user address range");
	return 0;
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? of 1-63 characters (a label name, or a value) */
static bool name_ok(const char *s, size_t n)
{
	if (!n || n > HSK_LABEL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && ((c != '-' && c != '_' && c != '.') || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* a DNS subdomain: [a-z0-9]([-a-z0-9.]*[a-z0-9])? of 1-253 characters */
static bool prefix_ok(const char *s, size_t n)
{
	if (!n || n > HSK_LABEL_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && ((c != '-' && c != '.') || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/*
 * Kubernetes' rules, the same as the service's (label/LabelLimits.java):
 * a key is an optional prefix and '/', then a name; a value is empty or a
 * name.
 */
bool hsk_label_ok(const char *key, const char *value)
{
	const char *slash = strchr(key, '/');
	size_t vlen = strlen(value);

	if (slash && (!prefix_ok(key, (size_t)(slash - key)) || !name_ok(slash + 1, strlen(slash + 1))))
		return false;
	if (!slash && !name_ok(key, strlen(key)))
		return false;
	return !vlen || name_ok(value, vlen);
}

static int parse_labels(json_t *labels, char *why, size_t why_len)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels))
		FAIL("\"labels\" must be an object of strings");
	if (json_object_size(labels) > HSK_LABELS_MAX)
		FAIL("at most %d labels", HSK_LABELS_MAX);
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    !hsk_label_ok(k, json_string_value(v)))
			FAIL("label \"%.32s\": a key is [prefix/]name, a value empty or a name (a name: "
			     "1-%d letters, digits, '-', '_' or '.', starting and ending with a letter or "
			     "digit; a prefix: a DNS subdomain of at most %d characters)",
			     k, HSK_LABEL_NAME_MAX, HSK_LABEL_PREFIX_MAX);
	}
	return 0;
}

static int parse_modes(json_t *modes, unsigned *out, char *why, size_t why_len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "missing", REGION_MODE_MISSING },
		{ "wp", REGION_MODE_WP },
		{ "minor", REGION_MODE_MINOR },
	};
	size_t i;
	json_t *m;

	*out = 0;
	if (!json_is_array(modes) || !json_array_size(modes))
		FAIL("\"modes\" must be a non-empty array of \"missing\", \"wp\", \"minor\"");
	json_array_foreach(modes, i, m) {
		unsigned bit = 0;

		for (size_t k = 0; json_is_string(m) && k < sizeof(names) / sizeof(names[0]); k++) {
			if (!strcmp(json_string_value(m), names[k].name))
				bit = names[k].bit;
		}
		if (!bit)
			FAIL("unknown mode in \"modes\" (known: missing, wp, minor)");
		if (*out & bit)
			FAIL("mode listed twice in \"modes\"");
		*out |= bit;
	}
	return 0;
}

/*
 * region_register (PROTOCOL.md §2.1).  name: 1-127 bytes (default
 * "region"); labels: object of strings; start, length, page_size:
 * integers, page aligned; modes: known, no repeats; features: integer;
 * resume_id: null or a UUID; hold_uffd: boolean, true only with the "wp"
 * mode (the second descriptor is the hold uffd), hold_features: integer.
 * Unknown fields are ignored.
 */
int hsk_parse_register(json_t *req, uint32_t base_page, struct hsk_register *out, char *why,
		       size_t why_len)
{
	json_t *name = json_object_get(req, "name"), *resume = json_object_get(req, "resume_id");
	json_t *hold;
	uint64_t ps;

	memset(out, 0, sizeof(*out));
	out->name = "region";
	if (name && (!json_is_string(name) || !json_string_length(name) ||
		     json_string_length(name) > HSK_NAME_MAX || strlen(json_string_value(name)) !=
									json_string_length(name)))
		FAIL("\"name\" must be a string of 1-%d bytes", HSK_NAME_MAX);
	if (name)
		out->name = json_string_value(name);
	out->labels = json_object_get(req, "labels");
	if (out->labels && parse_labels(out->labels, why, why_len))
		return -1;
	if (get_u64(req, "start", true, &out->start, why, why_len) ||
	    get_u64(req, "length", true, &out->length, why, why_len) ||
	    get_u64(req, "page_size", true, &ps, why, why_len) ||
	    get_u64(req, "features", false, &out->features, why, why_len) < 0)
		return -1;
	if (!hsk_page_size_ok(ps) || ps < base_page)
		FAIL("\"page_size\" %llu is not a page size of this host", (unsigned long long)ps);
	out->page_size = (uint32_t)ps;
	if (check_range(out->start, out->length, ps, why, why_len))
		return -1;
	if (parse_modes(json_object_get(req, "modes"), &out->modes, why, why_len))
		return -1;
	hold = json_object_get(req, "hold_uffd");
	if (hold && !json_is_boolean(hold))
		FAIL("\"hold_uffd\" must be true or false");
	out->hold = json_is_true(hold);
	if (out->hold && !(out->modes & REGION_MODE_WP))
		FAIL("\"hold_uffd\" needs the \"wp\" mode");
	if (get_u64(req, "hold_features", false, &out->hold_features, why, why_len) < 0)
		return -1;
	if (resume && !json_is_null(resume)) {
		if (!json_is_string(resume) || !jx_uuid_valid(json_string_value(resume)))
			FAIL("\"resume_id\" must be null or a region id (lower-case UUID)");
		memcpy(out->resume_id, json_string_value(resume), JX_UUID_LEN + 1);
		out->resume = true;
	}
	return 0;
}

/*
 * Firecracker sends its handshake as one JSON array and then nothing, on a
 * stream socket: the message ends where the top-level array closes.
 * Returns its length, 0 while incomplete, -1 when it cannot be one
 * (not an array, or longer than HSK_FC_MAX_MESSAGE).
 */
ssize_t hsk_fc_scan(const uint8_t *buf, size_t len)
{
	bool in_str = false, esc = false;
	size_t depth = 0;

	if (!len)
		return 0;
	if (buf[0] != '[')
		return -1;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (i >= HSK_FC_MAX_MESSAGE)
			return -1;
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '[' || c == '{')
			depth++;
		else if ((c == ']' || c == '}') && depth && --depth == 0)
			return (ssize_t)(i + 1);
	}
	return len >= HSK_FC_MAX_MESSAGE ? -1 : 0;
}

/*
 * Firecracker's page size: "page_size" in bytes; "page_size_kib" is also
 * in bytes despite its name (Firecracker sends both, equal, and documents
 * the old name as wrong but kept for compatibility).  A value that is only
 * valid read as KiB is taken as KiB, for handlers of very old versions.
 */
static int fc_page_size(json_t *o, uint32_t base_page, uint32_t *out, char *why, size_t why_len)
{
	uint64_t ps = 0, kib = 0;
	/* 0: present, 1: absent, -1: not an integer */
	int ps_absent = get_u64(o, "page_size", false, &ps, why, why_len);
	int kib_absent = get_u64(o, "page_size_kib", false, &kib, why, why_len);

	if (ps_absent < 0 || kib_absent < 0)
		return -1;
	if (ps_absent && kib_absent)
		FAIL("a region has neither \"page_size\" nor \"page_size_kib\"");
	if (!ps_absent && !kib_absent && ps != kib)
		FAIL("\"page_size\" %llu and \"page_size_kib\" %llu disagree", (unsigned long long)ps,
		     (unsigned long long)kib);
	if (ps_absent) {
		ps = kib;
		if (!hsk_page_size_ok(ps) && kib <= UINT32_MAX / 1024 && hsk_page_size_ok(kib * 1024))
			ps = kib * 1024;
	}
	if (!hsk_page_size_ok(ps) || ps < base_page)
		FAIL("page size %llu is not a page size of this host", (unsigned long long)ps);
	*out = (uint32_t)ps;
	return 0;
}

int hsk_fc_parse(const char *msg, size_t len, uint32_t base_page, struct hsk_fc_region *out,
		 unsigned max, unsigned *n, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *arr = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr), *o;
	size_t i;

	*n = 0;
	if (!arr) {
		snprintf(why, why_len, "handshake is not JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > max) {
		snprintf(why, why_len, "handshake must be an array of 1-%u regions", max);
		goto fail;
	}
	json_array_foreach(arr, i, o) {
		struct hsk_fc_region *r = &out[i];

		if (!json_is_object(o)) {
			snprintf(why, why_len, "region %zu is not an object", i);
			goto fail;
		}
		if (get_u64(o, "base_host_virt_addr", true, &r->base, why, why_len) ||
		    get_u64(o, "size", true, &r->size, why, why_len) ||
		    get_u64(o, "offset", true, &r->offset, why, why_len) ||
		    fc_page_size(o, base_page, &r->page_size, why, why_len) ||
		    check_range(r->base, r->size, r->page_size, why, why_len))
			goto fail;
		if (r->offset % base_page || r->offset > UINT64_MAX - r->size) {
			snprintf(why, why_len, "region %zu: offset not page aligned", i);
			goto fail;
		}
		for (size_t k = 0; k < i; k++) {
			if (r->base < out[k].base + out[k].size && out[k].base < r->base + r->size) {
				snprintf(why, why_len, "regions %zu and %zu overlap", k, i);
				goto fail;
			}
		}
	}
	*n = (unsigned)json_array_size(arr);
	json_decref(arr);
	return 0;
fail:
	json_decref(arr);
	return -1;
}
