package dev.faultline.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.policy.Retention.Candidate;
import dev.faultline.policy.Retention.Decision;
import dev.faultline.policy.Retention.Verdict;
import dev.faultline.snapshot.SnapshotState;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class RetentionTest {

    static final ZoneId UTC = ZoneOffset.UTC;
    static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

    @Test
    void aYearOfHourlySnapshotsKeepsExactlyWhatEachRuleSelects() {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        Set<String> verified = Set.of("2025-01-15T12:00:00Z", "2025-02-10T06:00:00Z", "2025-06-01T00:00:00Z");
        List<Candidate> year = Stream.iterate(Instant.parse("2025-01-01T00:00:00Z"), t -> t.isBefore(now),
                        t -> t.plus(Duration.ofHours(1)))
                .map(t -> completed(t, verified.contains(t.toString()), null)).toList();
        RetentionRules rules = new RetentionRules(3, 24, 7, 4, 12, Duration.ofDays(300).toSeconds(), 2);

        Map<String, Verdict> verdicts = byTime(year, Retention.evaluate(rules, UTC, now, year, Set.of()));

        List<String> expected = new ArrayList<>();
        for (int h = 0; h < 24; h++) {
            expected.add(String.format("2025-12-31T%02d:00:00Z", h)); // hourly 24 (covers keep-last 3)
        }
        for (int d = 25; d <= 30; d++) {
            expected.add("2025-12-" + d + "T23:00:00Z"); // daily 7, with the 31st
        }
        expected.addAll(List.of("2025-12-21T23:00:00Z", "2025-12-14T23:00:00Z")); // weekly: W01 (31st), W52 (28th), W51, W50
        for (String monthEnd : List.of("03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30", "10-31", "11-30")) {
            expected.add("2025-" + monthEnd + "T23:00:00Z"); // monthly 12, less January and February: older than 300 days
        }
        expected.addAll(List.of("2025-06-01T00:00:00Z", "2025-02-10T06:00:00Z")); // the newest two verified, whatever their age
        assertThat(kept(verdicts)).containsExactlyInAnyOrderElementsOf(expected).hasSize(43);

        assertThat(verdicts.get("2025-12-31T23:00:00Z").reasons()).containsExactly("keep-last 1",
                "hourly 2025-12-31T23:00+00:00", "daily 2025-12-31", "weekly 2026-W01", "monthly 2025-12");
        assertThat(verdicts.get("2025-12-21T23:00:00Z").reasons()).containsExactly("weekly 2025-W51");
        assertThat(verdicts.get("2025-02-10T06:00:00Z").reasons()).containsExactly("keep-verified 2");
        assertThat(verdicts.get("2025-01-31T23:00:00Z"))
                .isEqualTo(new Verdict(verdicts.get("2025-01-31T23:00:00Z").id(), Decision.PRUNE, List.of("older than max age P300D")));
        assertThat(verdicts.get("2025-01-15T12:00:00Z").reasons()).as("a third verified one is not on the floor")
                .containsExactly("older than max age P300D");
        assertThat(verdicts.get("2025-07-04T10:00:00Z").reasons()).containsExactly("not kept by any rule");
    }

    @Test
    void periodRulesReadTheCalendarOfThePolicysZone() {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        List<Candidate> evenings = Stream.of("2025-12-30T22:00:00Z", "2025-12-30T23:00:00Z", "2025-12-31T22:00:00Z",
                "2025-12-31T23:00:00Z").map(t -> completed(Instant.parse(t), false, null)).toList();
        RetentionRules twoDays = new RetentionRules(0, 0, 2, 0, 0, null, 0);

        assertThat(kept(byTime(evenings, Retention.evaluate(twoDays, UTC, now, evenings, Set.of()))))
                .containsExactlyInAnyOrder("2025-12-31T23:00:00Z", "2025-12-30T23:00:00Z");
        assertThat(kept(byTime(evenings, Retention.evaluate(twoDays, BERLIN, now, evenings, Set.of()))))
                .as("23:00 UTC is already the next day in Berlin")
                .containsExactlyInAnyOrder("2025-12-31T23:00:00Z", "2025-12-31T22:00:00Z");
    }

    @Test
    void theRepeatedHourOfAFallBackCountsAsTwoHours() {
        Instant now = Instant.parse("2026-10-25T02:00:00Z");
        List<Candidate> halfHourly = Stream.of("2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z",
                "2026-10-25T01:30:00Z").map(t -> completed(Instant.parse(t), false, null)).toList();

        List<Verdict> verdicts = Retention.evaluate(new RetentionRules(0, 2, 0, 0, 0, null, 0), BERLIN, now,
                halfHourly, Set.of());

        assertThat(verdicts).filteredOn(v -> v.decision() == Decision.KEEP).flatExtracting(Verdict::reasons)
                .containsExactly("hourly 2026-10-25T02:00+01:00", "hourly 2026-10-25T02:00+02:00");
    }

    @Test
    void theParentsOfAKeptIncrementalAreKeptUpItsChain() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        Candidate full = completed(t, false, null);
        Candidate first = completed(t.plusSeconds(3600), false, full.id());
        Candidate second = completed(t.plusSeconds(7200), false, first.id());
        Candidate failedChild = new Candidate(UUID.randomUUID(), t.plusSeconds(9000), SnapshotState.FAILED, false,
                second.id());
        Candidate newerFull = completed(t.plusSeconds(10800), false, null);
        RetentionRules keepLastTwo = new RetentionRules(2, 0, 0, 0, 0, null, 0);

        Map<UUID, Verdict> verdicts = byId(Retention.evaluate(keepLastTwo, UTC, t.plusSeconds(20000),
                List.of(full, first, second, failedChild, newerFull), Set.of()));

        assertThat(verdicts.get(newerFull.id()).reasons()).containsExactly("keep-last 1");
        assertThat(verdicts.get(second.id()).reasons()).containsExactly("keep-last 2");
        assertThat(verdicts.get(first.id()).reasons()).containsExactly("parent of kept " + second.id());
        assertThat(verdicts.get(full.id()).reasons()).containsExactly("parent of kept " + first.id());
        assertThat(verdicts.get(failedChild.id()).decision()).isEqualTo(Decision.PRUNE);
    }

    @Test
    void aSnapshotThatAnIncrementalOutsideThePolicyNeedsIsKept() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        Candidate old = completed(t, false, null);
        Candidate newest = completed(t.plusSeconds(3600), false, null);

        Map<UUID, Verdict> verdicts = byId(Retention.evaluate(new RetentionRules(1, 0, 0, 0, 0, null, 0), UTC,
                t.plusSeconds(7200), List.of(old, newest), Set.of(old.id())));

        assertThat(verdicts.get(old.id()).reasons()).containsExactly("parent of an incremental snapshot outside this policy");
    }

    @Test
    void failedAttemptsGoOnceALaterSnapshotCompletedAndRunningOnesStay() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        Candidate failedBefore = new Candidate(UUID.randomUUID(), t, SnapshotState.FAILED, false, null);
        Candidate done = completed(t.plusSeconds(60), false, null);
        Candidate failedAfter = new Candidate(UUID.randomUUID(), t.plusSeconds(120), SnapshotState.FAILED, false, null);
        Candidate running = new Candidate(UUID.randomUUID(), t.plusSeconds(180), SnapshotState.RUNNING, false, done.id());

        Map<UUID, Verdict> verdicts = byId(Retention.evaluate(new RetentionRules(0, 0, 0, 0, 0, 3600L, 0), UTC,
                t.plus(Duration.ofDays(1)), List.of(failedBefore, done, failedAfter, running), Set.of()));

        assertThat(verdicts.get(failedBefore.id()).reasons()).containsExactly("older than max age PT1H");
        assertThat(verdicts.get(running.id()).reasons()).containsExactly("being taken");
        assertThat(verdicts.get(done.id()).reasons()).as("a running incremental needs its parent, max age or not")
                .containsExactly("parent of kept " + running.id());
        assertThat(verdicts.get(failedAfter.id()).decision()).isEqualTo(Decision.PRUNE);
    }

    @Test
    void withoutAnyRuleEverythingIsKeptAndWithOnlyMaxAgeWhatIsYoungEnough() {
        Instant now = Instant.parse("2026-01-10T00:00:00Z");
        List<Candidate> daily = Stream.iterate(Instant.parse("2026-01-01T00:00:00Z"), t -> t.isBefore(now),
                t -> t.plus(Duration.ofDays(1))).map(t -> completed(t, false, null)).toList();

        assertThat(Retention.evaluate(RetentionRules.KEEP_EVERYTHING, UTC, now, daily, Set.of()))
                .allSatisfy(v -> assertThat(v.decision()).isEqualTo(Decision.KEEP));
        List<Verdict> weekOld = Retention.evaluate(new RetentionRules(0, 0, 0, 0, 0, Duration.ofDays(3).toSeconds(), 0),
                UTC, now, daily, Set.of());
        assertThat(kept(byTime(daily, weekOld)))
                .containsExactlyInAnyOrder("2026-01-07T00:00:00Z", "2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z");
    }

    private static Candidate completed(Instant createdAt, boolean verified, UUID parentId) {
        return new Candidate(UUID.randomUUID(), createdAt, SnapshotState.COMPLETED, verified, parentId);
    }

    private static Map<String, Verdict> byTime(List<Candidate> candidates, List<Verdict> verdicts) {
        Map<UUID, Instant> times = candidates.stream().collect(Collectors.toMap(Candidate::id, Candidate::createdAt));
        return verdicts.stream().collect(Collectors.toMap(v -> times.get(v.id()).toString(), Function.identity()));
    }

    private static Map<UUID, Verdict> byId(List<Verdict> verdicts) {
        return verdicts.stream().collect(Collectors.toMap(Verdict::id, Function.identity()));
    }

    private static List<String> kept(Map<String, Verdict> verdicts) {
        return verdicts.entrySet().stream().filter(e -> e.getValue().decision() == Decision.KEEP).map(Map.Entry::getKey)
                .toList();
    }
}
