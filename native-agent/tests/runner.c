/*
 * faultline-tests: table-driven runner for the agent's C tests.
 *
 *   faultline-tests [-f FILTER]... [-l] [-v] [-a AGENT] [-t SECONDS]
 *
 * Every test runs in a forked child with a timeout, so a crash or a hang is
 * one failed test, not a dead run; agents a test starts die with it
 * (PR_SET_PDEATHSIG in the harness).  The last line is always
 * "N passed, N failed, N skipped" and the exit status is 1 if any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "harness.h"
#include "hwork.h"
#include "test.h"

static const struct t_case cases[] = {
	{ "proto/golden_bytes", t_proto_golden_bytes, 0 },
	{ "proto/roundtrip", t_proto_roundtrip, 0 },
	{ "proto/truncated_header", t_proto_truncated_header, 0 },
	{ "proto/truncated_payload", t_proto_truncated_payload, 0 },
	{ "proto/too_large", t_proto_too_large, 0 },
	{ "proto/bad_magic", t_proto_bad_magic, 0 },
	{ "proto/bad_version", t_proto_bad_version, 0 },
	{ "proto/reserved_nonzero", t_proto_reserved, 0 },
	{ "proto/unknown_flags", t_proto_unknown_flags, 0 },
	{ "proto/error_without_reply", t_proto_error_without_reply, 0 },
	{ "proto/garbage", t_proto_garbage, 0 },
	{ "proto/stream_chunked", t_proto_stream_chunked, 0 },
	{ "proto/stream_fatal", t_proto_stream_fatal, 0 },
	{ "proto/buf_limits", t_proto_buf_limits, 0 },
	{ "proto/error_codes", t_proto_error_codes, 0 },

	{ "log/escaping", t_log_escaping, 0 },
	{ "log/truncation", t_log_truncation, 0 },
	{ "log/levels_errno_reopen", t_log_levels_and_errno, 0 },

	{ "opts/defaults", t_opts_defaults, 0 },
	{ "opts/allow_uid", t_opts_allow_uid, 0 },
	{ "opts/rejects", t_opts_rejects, 0 },

	{ "uffd/probe_matches_host", t_uffd_probe_matches_host, T_NEEDS_UFFD },
	{ "uffd/open_flags", t_uffd_open_flags, T_NEEDS_UFFD },
	{ "uffd/names", t_uffd_names, 0 },

	{ "unit/register_payload", t_unit_register_payload, 0 },
	{ "unit/firecracker_handshake", t_unit_firecracker_handshake, 0 },
	{ "unit/working_set_file", t_unit_working_set_file, 0 },
	{ "unit/replay_readahead", t_unit_replay_readahead, 0 },
	{ "unit/fd_limits", t_unit_fd_limits, 0 },
	{ "unit/image_paths", t_unit_image_paths, 0 },
	{ "unit/bytes", t_unit_bytes, 0 },
	{ "unit/histogram", t_unit_histogram, 0 },

	{ "engine/eagain_retry", t_engine_eagain_retry, T_NEEDS_UFFD },
	{ "engine/threaded_restore", t_engine_threaded_restore, T_NEEDS_UFFD },
	{ "engine/write_window_zeros_private", t_engine_write_window_zeros_private, T_NEEDS_UFFD },
	{ "engine/hugetlb_remove_reads_zero", t_engine_hugetlb_remove, T_NEEDS_UFFD | T_NEEDS_ROOT },
	{ "engine/partial_mremap_followed", t_engine_partial_remap, T_NEEDS_UFFD },
	{ "engine/mremap_into_a_hole", t_engine_remap_into_hole, T_NEEDS_UFFD },
	{ "engine/fork_child_adopted", t_engine_fork_adopted, T_NEEDS_UFFD },
	{ "engine/fork_child_keeps_holes", t_engine_fork_keeps_holes, T_NEEDS_UFFD },
	{ "engine/removed_wp_page_reads_zero", t_engine_removed_wp_page_reads_zero, T_NEEDS_UFFD },
	{ "engine/strategy_parks_missing", t_engine_strategy_parks_missing, T_NEEDS_UFFD },
	{ "engine/crew_every_piece_once", t_crew_every_piece_once, 0 },
	{ "engine/crew_pieces_overlap", t_crew_pieces_overlap, 0 },
	{ "engine/helpers_remove_reads_zero", t_engine_helpers_remove_reads_zero, T_NEEDS_UFFD },
	{ "engine/fault_around_policy", t_unit_fault_around_policy, 0 },
	{ "engine/fault_around_adapts", t_engine_fault_around_adapts, T_NEEDS_UFFD },

	{ "track/two_uffds", t_track_two_uffds, T_NEEDS_UFFD },
	{ "track/dirty_exact_async", t_track_dirty_exact_async, T_NEEDS_UFFD },
	{ "track/dirty_exact_hold", t_track_dirty_exact_hold, T_NEEDS_UFFD },
	{ "track/freeze_stops_every_thread", t_track_freeze_stops_every_thread, 0 },
	{ "track/move_forgets_and_wakes", t_track_move_forgets_and_wakes, T_NEEDS_UFFD },
	{ "track/reset_recovers", t_track_reset_recovers, T_NEEDS_UFFD },
	{ "track/read_never_waits", t_track_read_never_waits, T_NEEDS_UFFD },
	{ "track/soft_dirty_probe", t_track_soft_dirty_probe, 0 },
	{ "hold/consistent_cut", t_hold_consistent_cut, T_NEEDS_UFFD },
	{ "hold/rounds_converge", t_hold_rounds_converge, T_NEEDS_UFFD },

	{ "pchan/golden_bytes", t_pchan_golden, 0 },
	{ "pchan/malformed", t_pchan_malformed, 0 },
	{ "pchan/auth", t_pchan_auth, 0 },
	{ "mig/byte_for_byte", t_mig_byte_for_byte, T_NEEDS_UFFD },
	{ "mig/zero_pages_not_sent", t_mig_zero_pages_not_sent, T_NEEDS_UFFD },
	{ "mig/unchanged_not_sent", t_mig_unchanged_not_sent, T_NEEDS_UFFD },
	{ "mig/unchanged_compare_checked", t_mig_unchanged_compare_checked, T_NEEDS_UFFD },
	{ "mig/unchanged_forgotten_on_reconnect", t_mig_unchanged_forgotten_on_reconnect, T_NEEDS_UFFD },
	{ "mig/zstd_byte_exact", t_mig_zstd_byte_exact, T_NEEDS_UFFD },
	{ "mig/downtime_without_faults", t_mig_downtime_without_faults, T_NEEDS_UFFD },
	{ "mig/auto_converge", t_mig_auto_converge, T_NEEDS_UFFD },
	{ "mig/auto_converge_lets_go", t_mig_auto_converge_lets_go, T_NEEDS_UFFD },
	{ "mig/auto_converge_unavailable", t_mig_auto_converge_unavailable, T_NEEDS_UFFD },
	{ "mig/granule_pages_applied", t_mig_granule_pages_applied, T_NEEDS_UFFD },
	{ "mig/dest_keeps_first_copy", t_mig_dest_keeps_first_copy, T_NEEDS_UFFD },
	{ "mig/demand_ahead_of_push", t_mig_demand_ahead_of_push, T_NEEDS_UFFD },
	{ "mig/cut_and_resume", t_mig_cut_and_resume, T_NEEDS_UFFD },
	{ "mig/wire_encrypted", t_mig_wire_encrypted, T_NEEDS_UFFD },
	{ "mig/wire_plaintext_control", t_mig_wire_plaintext_control, T_NEEDS_UFFD },
	{ "mig/tampered_frame_aborts", t_mig_tampered_frame, T_NEEDS_UFFD },
	{ "mig/trickling_clients_do_not_lock_out", t_mig_trickling_clients, T_NEEDS_UFFD },
	{ "mig/certificates", t_mig_certificates, T_NEEDS_UFFD },
	{ "mig/accept_emfile_backs_off", t_mig_accept_emfile_backs_off, T_NEEDS_UFFD },
	{ "mig/certificates_required", t_mig_certificates_required, T_NEEDS_UFFD },
	{ "mig/wrong_secret", t_mig_wrong_secret, T_NEEDS_UFFD },
	{ "mig/malformed_refused", t_mig_malformed_refused, T_NEEDS_UFFD },
	{ "mig/request_out_of_range_and_cancel", t_mig_request_out_of_range, T_NEEDS_UFFD },
	{ "mig/source_agent_killed_gives_writers_back", t_mig_source_agent_killed, T_NEEDS_UFFD },
	{ "mig/dst_agent_killed_after_switchover", t_mig_dst_agent_killed, T_NEEDS_UFFD },
	{ "mig/source_agent_killed_after_switchover_resumes", t_mig_source_agent_killed_held, T_NEEDS_UFFD },
	{ "mig/restart_dst_precopy", t_mig_dst_killed_precopy, T_NEEDS_UFFD },
	{ "mig/restart_src_precopy", t_mig_src_killed_precopy, T_NEEDS_UFFD },
	{ "mig/restart_both_precopy", t_mig_both_killed_precopy, T_NEEDS_UFFD },
	{ "mig/restart_both_postcopy", t_mig_both_killed_postcopy, T_NEEDS_UFFD },
	{ "mig/restart_then_cancel", t_mig_cancel_survives_restart, T_NEEDS_UFFD },
	{ "mig/pause_resume_switchover", t_mig_pause_resume_switchover, T_NEEDS_UFFD },
	{ "mig/source_workload_dies", t_mig_source_workload_dies, T_NEEDS_UFFD },
	{ "mig/switchover_unrecorded", t_mig_switchover_unrecorded, T_NEEDS_UFFD },
	{ "mig/destination_remove_after_complete", t_mig_dst_remove_after_complete, T_NEEDS_UFFD },
	{ "mig/switchover_gap_covered", t_mig_switchover_gap_covered, T_NEEDS_UFFD },
	{ "mig/push_byte_exact", t_mig_push_byte_exact, T_NEEDS_UFFD },
	{ "mig/push_tampered", t_mig_push_tampered, T_NEEDS_UFFD },
	{ "mig/push_cut", t_mig_push_cut, T_NEEDS_UFFD },
	{ "mig/push_fewer", t_mig_push_fewer, T_NEEDS_UFFD },
	{ "mig/push_refused", t_mig_push_refused, T_NEEDS_UFFD },
	{ "mig_long/byte_for_byte_256m", t_mig_byte_for_byte_256m, T_NEEDS_UFFD | T_LONG },
	{ "snapimg/roundtrip", t_snapimg_roundtrip, 0 },
	{ "snapimg/refusals", t_snapimg_refusals, 0 },
	{ "snapimg/parent_links", t_snapimg_parent_links, 0 },
	{ "snapimg/consolidate", t_snapimg_consolidate, 0 },
	{ "snapimg/incomplete", t_snapimg_incomplete, 0 },
	{ "snapimg/ring_follows_use", t_snapimg_ring_follows_use, 0 },
	{ "snap/full_and_incremental_under_writer", t_snap_full_and_incremental_under_writer,
	  T_NEEDS_UFFD },
	{ "snap/refusals", t_snap_refusals, T_NEEDS_UFFD },
	{ "snap/needs_hold_uffd", t_snap_needs_hold_uffd, T_NEEDS_UFFD },
	{ "snap/ledger_invariant", t_snap_ledger_invariant, T_NEEDS_UFFD },
	{ "snap/agent_killed_mid_capture", t_snap_agent_killed_mid_capture, T_NEEDS_UFFD },
	{ "snap/restored_region_once_complete", t_snap_restored_region, T_NEEDS_UFFD },
	{ "snap/eager_restore", t_snap_eager_restore, T_NEEDS_UFFD },
	{ "snap/quiesce_yes_no_timeout", t_snap_quiesce, T_NEEDS_UFFD },
	{ "snap/bounded_buffer", t_snap_bounded_buffer, T_NEEDS_UFFD },
	{ "snap/restore_session_files", t_snap_restore_session_files, T_NEEDS_UFFD },
	{ "snap/chain_bad_page", t_snap_chain_bad_page, T_NEEDS_UFFD },
	{ "snap/chain_session_consolidated", t_snap_chain_session_consolidated, T_NEEDS_UFFD },
	{ "snap/thp_under_writer", t_snap_thp, T_NEEDS_UFFD },
	{ "snap/hugetlb_2m_under_writer", t_snap_hugetlb, T_NEEDS_UFFD | T_NEEDS_ROOT },
	{ "snap/sequential_writer", t_snap_sequential_writer, T_NEEDS_UFFD },
	{ "snap/workload_exits_while_worker_spins", t_snap_workload_exits_while_worker_spins,
	  T_NEEDS_UFFD },

	{ "restore/seq", t_restore_seq, T_NEEDS_UFFD },
	{ "restore/random", t_restore_random, T_NEEDS_UFFD },
	{ "restore/two_threads", t_restore_two_threads, T_NEEDS_UFFD },
	{ "restore/zero_pages", t_restore_zero_pages, T_NEEDS_UFFD },
	{ "restore/fault_around", t_restore_fault_around, T_NEEDS_UFFD },
	{ "restore/thp", t_restore_thp, T_NEEDS_UFFD },
	{ "restore/hugetlb_2m", t_restore_hugetlb, T_NEEDS_UFFD | T_NEEDS_ROOT },

	{ "clone/isolated_byte_exact", t_clone_isolated, T_NEEDS_UFFD },
	{ "clone/hugetlb_2m", t_clone_hugetlb, T_NEEDS_UFFD | T_NEEDS_ROOT },
	{ "clone/agent_killed_mid_restore", t_clone_agent_killed, T_NEEDS_UFFD },
	{ "clone/refusals", t_clone_refusals, T_NEEDS_UFFD },
	{ "clone/timing_ordered", t_clone_timing, T_NEEDS_UFFD },
	{ "clone/firecracker_refused", t_clone_firecracker_refused, T_NEEDS_UFFD },

	{ "session/background_populator_completes", t_session_background_complete, T_NEEDS_UFFD },
	{ "session/detach_populates_then_releases", t_session_detach_populates, T_NEEDS_UFFD },
	{ "session/working_set_replay", t_session_working_set_replay, T_NEEDS_UFFD },
	{ "session/cold_replay_reads_ahead", t_session_cold_replay_reads_ahead, T_NEEDS_UFFD },
	{ "session/agent_killed_mid_restore", t_session_agent_killed, T_NEEDS_UFFD },
	{ "session/commands", t_session_commands, T_NEEDS_UFFD },
	{ "session/lists_in_pages", t_lists_in_pages, T_NEEDS_UFFD },
	{ "session/image_truncated_read_guarded", t_image_truncated_read_guarded, 0 },
	{ "session/image_truncated_under_restore", t_session_image_truncated, T_NEEDS_UFFD },
	{ "session/image_changed_while_agent_down", t_session_image_changed_while_down, T_NEEDS_UFFD },

	{ "handoff/lib_trusts_peercred_not_hello", t_lib_trusts_peercred, 0 },
	{ "balloon/firecracker_active", t_balloon_fc_active, T_NEEDS_UFFD },
	{ "balloon/firecracker_after_complete", t_balloon_fc_complete, T_NEEDS_UFFD },
	{ "balloon/firecracker_snapshot_after_complete", t_balloon_fc_snapshot_complete, T_NEEDS_UFFD },
	{ "balloon/libfaultline_after_complete", t_balloon_lib_complete, T_NEEDS_UFFD },
	{ "balloon/libfaultline_wp_active", t_balloon_lib_wp_active, T_NEEDS_UFFD },
	{ "balloon/libfaultline_wp_after_complete", t_balloon_lib_wp_complete, T_NEEDS_UFFD },
	{ "balloon/libfaultline_snapshot_after_complete", t_balloon_lib_snapshot_complete, T_NEEDS_UFFD },
	{ "balloon/install_racing_the_zap", t_balloon_racing_install, T_NEEDS_UFFD },
	{ "balloon/libfaultline_wp_after_snapshot", t_balloon_lib_wp_snapshot, T_NEEDS_UFFD },

	{ "stress/restore", t_stress_restore, T_NEEDS_UFFD },
	{ "stress/snapshot", t_stress_snapshot, T_NEEDS_UFFD },
	{ "stress/migration", t_stress_migration, T_NEEDS_UFFD },
	{ "stress/self_check", t_stress_self_check, T_NEEDS_UFFD },

	{ "handoff/firecracker", t_handoff_firecracker, T_NEEDS_UFFD },
	{ "handoff/balloon_remove_reads_zero", t_handoff_balloon_remove, T_NEEDS_UFFD },
	{ "handoff/firecracker_survives_agent_kill", t_handoff_firecracker_agent_killed, T_NEEDS_UFFD },
	{ "handoff/firecracker_no_keeper_hangs", t_handoff_firecracker_no_keeper_hangs, T_NEEDS_UFFD },
	{ "handoff/keeper_bad_input", t_handoff_keeper_bad_input, T_NEEDS_UFFD },
	{ "handoff/firecracker_systemd_store", t_handoff_firecracker_systemd_store, T_NEEDS_UFFD },
	{ "chaos/restore_libfaultline", t_chaos_restore_libfaultline, T_NEEDS_UFFD },
	{ "chaos/restore_firecracker", t_chaos_restore_firecracker, T_NEEDS_UFFD },
	{ "chaos/snapshot_ledger", t_chaos_snapshot_ledger, T_NEEDS_UFFD },
	{ "chaos/consolidate", t_chaos_consolidate, T_NEEDS_UFFD },
	{ "chaos/migration", t_chaos_migration, T_NEEDS_UFFD },
	{ "handoff/anonymous", t_handoff_anonymous, T_NEEDS_UFFD },
	{ "handoff/refusal_is_explained", t_handoff_refusal_is_explained, 0 },
	{ "handoff/errors", t_handoff_errors, T_NEEDS_UFFD },
	{ "handoff/uid_refused", t_handoff_uid_refused, T_NEEDS_ROOT },

	{ "ctl/hello", t_ctl_hello, T_NEEDS_UFFD },
	{ "ctl/ping", t_ctl_ping, 0 },
	{ "ctl/not_negotiated", t_ctl_not_negotiated, 0 },
	{ "ctl/bad_magic_closes_only_that_client", t_ctl_bad_magic, 0 },
	{ "ctl/bad_version", t_ctl_bad_version, 0 },
	{ "ctl/too_large_closes_only_that_client", t_ctl_too_large, 0 },
	{ "ctl/max_payload_accepted", t_ctl_max_payload, 0 },
	{ "ctl/unknown_type", t_ctl_unknown_type, 0 },
	{ "ctl/bad_payload", t_ctl_bad_payload, 0 },
	{ "ctl/bad_frame", t_ctl_bad_frame, 0 },
	{ "ctl/one_byte_writes", t_ctl_one_byte_writes, 0 },
	{ "ctl/frames_in_one_write", t_ctl_frames_in_one_write, 0 },
	{ "ctl/half_close", t_ctl_half_close, 0 },
	{ "ctl/peer_dies_mid_frame", t_ctl_peer_dies_mid_frame, 0 },
	{ "ctl/pipelined_flood", t_ctl_pipelined_flood, 0 },
	{ "ctl/never_reads_is_dropped", t_ctl_never_reads, 0 },
	{ "ctl/max_clients", t_ctl_max_clients, 0 },
	{ "ctl/limits_follow_nofile", t_ctl_limits_follow_nofile, 0 },
	{ "notify/region_events", t_notify_region_events, T_NEEDS_UFFD },
	{ "notify/gap_when_behind", t_notify_gap_when_behind, T_NEEDS_UFFD },
	{ "notify/stats_of_large_regions", t_notify_stats_of_large_regions, T_NEEDS_UFFD },

	{ "life/options", t_life_options, 0 },
	{ "life/socket_mode_0600", t_life_socket_mode, 0 },
	{ "life/state_dir", t_life_state_dir, 0 },
	{ "life/sigterm", t_life_sigterm, 0 },
	{ "life/shutdown_request", t_life_shutdown, 0 },
	{ "life/sighup_reopens_log", t_life_sighup, 0 },
	{ "life/uid_refused", t_life_uid_refused, T_NEEDS_ROOT },
	{ "life/uid_allowed", t_life_uid_allowed, T_NEEDS_ROOT },
	{ "life/stale_socket_replaced", t_life_stale_socket, 0 },
	{ "life/live_socket_kept", t_life_live_socket, 0 },
	{ "life/socket_dir_owner_and_mode_checked", t_lifecycle_socket_dir_checked, 0 },
	{ "life/second_agent_refused", t_life_second_agent, 0 },
	{ "life/not_a_socket", t_life_not_a_socket, 0 },
};

void t_failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("    FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int t_skip(const char *fmt, ...)
{
	va_list ap;

	printf("    skip: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return T_SKIP;
}

void t_logf(const char *fmt, ...)
{
	va_list ap;

	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * The tests' own view of userfaultfd, written independently of uffd.c, so
 * that what the agent reports is checked against the kernel and not
 * against itself.
 */
static void probe_host(struct t_env *env)
{
	struct uffdio_api api = { .api = UFFD_API };
	int dev, fd = -1;

	env->root = geteuid() == 0;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
		close(dev);
		env->uffd_source = "dev_userfaultfd";
	}
	if (fd < 0) {
		fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);
		if (fd < 0)
			fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
		env->uffd_source = "syscall";
	}
	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0) {
		env->uffd = true;
		env->uffd_features = api.features;
	}
	if (fd >= 0)
		close(fd);

	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (p != MAP_FAILED && pm >= 0) {
		struct page_region r;
		struct pm_scan_arg arg = {
			.size = sizeof(arg), .start = (uintptr_t)p, .end = (uintptr_t)p + (size_t)psz,
			.vec = (uintptr_t)&r, .vec_len = 1, .return_mask = PAGE_IS_PRESENT,
		};

		p[0] = 1;
		env->pagemap_scan = ioctl(pm, PAGEMAP_SCAN, &arg) >= 0;
	}
	if (pm >= 0)
		close(pm);
	if (p != MAP_FAILED)
		munmap(p, (size_t)psz);
}

static const char *missing_reason(const struct t_env *env, unsigned needs)
{
	if ((needs & T_NEEDS_UFFD) && !env->uffd)
		return "userfaultfd is not available to this process";
	if ((needs & T_NEEDS_ROOT) && !env->root)
		return "needs root (switches to uid 65534, reserves huge pages)";
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Returns a t_result; a timeout or a crash is T_FAIL. */
static int run_case(const struct t_case *c, const struct t_env *env, int timeout_s)
{
	int status, pidfd, ret;
	struct pollfd pfd;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return T_FAIL;
	}
	if (pid == 0) {
		int r;

		h_setup(env->agent_path);
		h_work_setup(env->demo_path);
		r = c->fn(env);
		h_work_cleanup();
		/* agents still running are stopped with SIGTERM and must exit 0 */
		if (!h_cleanup(r == T_PASS, env->verbose) && r == T_PASS)
			r = T_FAIL;
		fflush(NULL);
		exit(r);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		do
			ret = poll(&pfd, 1, timeout_s * 1000);
		while (ret < 0 && errno == EINTR);
		if (ret == 0) {
			printf("    FAIL: timed out after %d s\n", timeout_s);
			kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return T_FAIL;
		}
	}
	if (WIFSIGNALED(status)) {
		printf("    FAIL: killed by signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
		return T_FAIL;
	}
	ret = WEXITSTATUS(status);
	return ret == T_PASS || ret == T_SKIP ? ret : T_FAIL;
}

static bool selected(const char *name, char **filters, int n_filters)
{
	if (!n_filters)
		return true;
	for (int i = 0; i < n_filters; i++) {
		if (strstr(name, filters[i]))
			return true;
	}
	return false;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [-f FILTER]... [-l] [-v] [-a AGENT] [-t SECONDS]\n"
		   "  -f FILTER   run only tests whose name contains FILTER (repeatable)\n"
		   "  -l          list tests and their requirements\n"
		   "  -v          verbose (dump agent logs of passing tests too)\n"
		   "  -a AGENT    agent binary (default: faultline-agent next to this program,\n"
		   "              or $FAULTLINE_AGENT)\n"
		   "  -t SECONDS  per-test timeout (default 60)\n"
		   "Missing prerequisites fail unless FAULTLINE_ALLOW_SKIP=1.\n", prog);
}

int main(int argc, char **argv)
{
	static char agent_path[PATH_MAX], demo_path[PATH_MAX];
	struct t_env env = { 0 };
	char *filters[32];
	int n_filters = 0, timeout_s = 60, opt;
	int passed = 0, failed = 0, skipped = 0;
	bool list = false, allow_skip;
	const char *s;

	/* the tests' fake page channel peers write to sockets the agent may have closed (OpenSSL
	 * writes with write(2)): an error to check, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "f:la:t:vh")) != -1) {
		switch (opt) {
		case 'f':
			if (n_filters == 32) {
				fprintf(stderr, "too many -f\n");
				return 2;
			}
			filters[n_filters++] = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'a':
			env.agent_path = optarg;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0) {
				fprintf(stderr, "bad -t\n");
				return 2;
			}
			break;
		case 'v':
			env.verbose = true;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (!env.agent_path)
		env.agent_path = getenv("FAULTLINE_AGENT");
	if (!env.agent_path) {
		ssize_t n = readlink("/proc/self/exe", agent_path, sizeof(agent_path) - 32);

		if (n < 0) {
			perror("readlink /proc/self/exe");
			return 2;
		}
		agent_path[n] = '\0';
		strcat(dirname(agent_path), "/faultline-agent");
		env.agent_path = agent_path;
	}
	/* the demo (a libfaultline workload) is built next to the agent */
	snprintf(demo_path, sizeof(demo_path), "%s", env.agent_path);
	strcpy(strrchr(demo_path, '/') ? strrchr(demo_path, '/') + 1 : demo_path, "faultline-demo");
	env.demo_path = demo_path;
	s = getenv("FAULTLINE_ALLOW_SKIP");
	allow_skip = s && !strcmp(s, "1");
	probe_host(&env);

	if (list) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (selected(cases[i].name, filters, n_filters))
				printf("%-40s%s%s\n", cases[i].name,
				       cases[i].needs & T_NEEDS_UFFD ? " uffd" : "",
				       cases[i].needs & T_NEEDS_ROOT ? " root" : "");
		}
		return 0;
	}

	printf("host: uid=%u uffd=%s source=%s features=0x%llx pagemap_scan=%s agent=%s\n",
	       (unsigned)geteuid(), env.uffd ? "yes" : "no", env.uffd ? env.uffd_source : "-",
	       (unsigned long long)env.uffd_features, env.pagemap_scan ? "yes" : "no",
	       env.agent_path);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct t_case *c = &cases[i];
		const char *why;
		uint64_t t0;
		int r;

		if (!selected(c->name, filters, n_filters))
			continue;
		if ((c->needs & T_LONG) && !n_filters)
			continue; /* make check-long */
		if ((c->needs & T_OPEN_BUG) && !n_filters) {
			printf("[ SKIP ] %s: reproduces an open bug (docs/reliability.md, \"Open bugs\"); "
			       "run it with -f %s\n", c->name, c->name);
			skipped++;
			continue;
		}
		printf("[ RUN  ] %s\n", c->name);
		t0 = now_ms();
		why = missing_reason(&env, c->needs);
		if (why) {
			printf("    skip: %s\n", why);
			r = T_SKIP;
		} else {
			r = run_case(c, &env, timeout_s);
		}
		if (r == T_SKIP && !allow_skip) {
			printf("[ FAIL ] %s: prerequisite missing (FAULTLINE_ALLOW_SKIP=1 to skip)\n",
			       c->name);
			failed++;
		} else if (r == T_SKIP) {
			printf("[ SKIP ] %s\n", c->name);
			skipped++;
		} else if (r == T_PASS) {
			printf("[  OK  ] %s (%llu ms)\n", c->name,
			       (unsigned long long)(now_ms() - t0));
			passed++;
		} else {
			printf("[ FAIL ] %s\n", c->name);
			failed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
