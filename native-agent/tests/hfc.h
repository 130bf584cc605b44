/*
 * Firecracker as the tests play it: guest memory in the test process, a
 * uffd made the way Firecracker makes it (EVENT_REMOVE only), handed to a
 * restore session with Firecracker's handshake; and guest reads on a
 * thread of their own, so that a read that blocks is a failure with a
 * message, never a hung test.
 */
#ifndef FAULTLINE_HFC_H
#define FAULTLINE_HFC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "harness.h"

#define H_FC_SEED 7
#define H_FC_MIB (UINT64_C(1) << 20)
/* pages of each of the two guest memory regions (8 MiB each) */
#define H_FC_REGION_PAGES 2048

/*
 * "Firecracker": two guest memory regions of 8 MiB backed by the two
 * halves of one image (content seed H_FC_SEED), its agent and session.
 */
struct h_fc {
	struct h_agent a;
	int ctl, sock, uffd;
	uint8_t *mem[2];
	json_t *rs;
};

int h_fc_uffd(void *mem, size_t len, uint64_t features);
int h_send_fd(int sock, const void *buf, size_t len, int fd);
int h_fc_start_with(struct h_fc *vm, const char *const *agent_args, const char *session_json);
int h_fc_start(struct h_fc *vm);
void h_fc_stop(struct h_fc *vm);
bool h_zero_page(const uint8_t *p);
/* 0 when pages [first, first + n) of mem read zero (zero) or the image, within timeout_ms */
int h_touch(const uint8_t *mem, uint64_t first, uint64_t n, bool zero, int timeout_ms);
int h_touch_image(const uint8_t *mem, uint64_t first, uint64_t n, int timeout_ms);

#endif /* FAULTLINE_HFC_H */
