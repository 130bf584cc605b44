package dev.faultline.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The job's state machine on its own: what it follows, what it refuses. */
class MigrationTest {

    static final Instant T0 = Instant.parse("2026-11-24T20:00:00Z");

    @Test
    void aJobFollowsTheAgentsForwardAndIgnoresStaleReports() {
        Migration job = job();

        assertThat(job.follow(MigrationPhase.POSTCOPY, null, T0.plusSeconds(1), T0.plusSeconds(2))).isTrue();
        assertThat(job.phase()).isEqualTo(MigrationPhase.POSTCOPY);
        assertThat(job.view(null).timeline()).extracting(MigrationJson.Step::phase).containsExactly(
                MigrationPhase.PENDING, MigrationPhase.PRECOPY, MigrationPhase.SWITCHOVER, MigrationPhase.POSTCOPY);
        assertThat(job.view(null).switchoverAt()).isEqualTo(T0.plusSeconds(1));

        assertThat(job.follow(MigrationPhase.PRECOPY, null, null, T0.plusSeconds(3))).as("stale").isFalse();
        assertThat(job.phase()).isEqualTo(MigrationPhase.POSTCOPY);
    }

    @Test
    void pausedRemembersWhereAndResumesThere() {
        Migration job = job();
        job.follow(MigrationPhase.PRECOPY, null, null, T0);

        job.follow(MigrationPhase.PAUSED, MigrationPhase.PRECOPY, null, T0);
        assertThat(job.phase()).isEqualTo(MigrationPhase.PAUSED);
        assertThat(job.pausedIn()).isEqualTo(MigrationPhase.PRECOPY);
        assertThat(job.pastSwitchover()).isFalse();

        job.follow(MigrationPhase.PRECOPY, null, null, T0);
        assertThat(job.phase()).isEqualTo(MigrationPhase.PRECOPY);
        assertThat(job.pausedIn()).isNull();
    }

    @Test
    void aJobPausedInPostcopyIsPastSwitchoverAndCannotBeCancelled() {
        Migration job = job();
        job.follow(MigrationPhase.PAUSED, MigrationPhase.POSTCOPY, null, T0);

        assertThat(job.phase()).isEqualTo(MigrationPhase.PAUSED);
        assertThat(job.pastSwitchover()).isTrue();
        assertThatThrownBy(() -> job.cancel(T0)).isInstanceOfSatisfying(DomainException.class,
                e -> assertThat(e.kind()).isEqualTo(Problem.MIGRATION_PAST_SWITCHOVER));
    }

    @Test
    void requestsThatDoNotFitThePhaseAreRefused() {
        Migration job = job();
        assertWrongPhase(job::requireStartPostcopy);
        assertWrongPhase(job::requirePausable);
        assertWrongPhase(job::requireResumable);

        job.follow(MigrationPhase.PRECOPY, null, null, T0);
        job.requireStartPostcopy();
        job.requirePausable();
        assertWrongPhase(job::requireResumable);

        job.cancel(T0);
        assertThat(job.phase()).isEqualTo(MigrationPhase.CANCELLED);
        assertThat(job.secret()).isNull();
        assertWrongPhase(() -> job.cancel(T0));
        assertThat(job.follow(MigrationPhase.POSTCOPY, null, null, T0)).as("a final phase stays").isFalse();
    }

    @Test
    void completionEndsTheJobWithNothingRemaining() {
        Migration job = job();
        job.follow(MigrationPhase.COMPLETED, null, null, T0.plusSeconds(5));

        assertThat(job.phase()).isEqualTo(MigrationPhase.COMPLETED);
        assertThat(job.view(null).completedAt()).isEqualTo(T0.plusSeconds(5));
        assertThat(job.stats().remainingBytes()).isZero();
        assertThatThrownBy(job::requireCancellable).isInstanceOfSatisfying(DomainException.class,
                e -> assertThat(e.kind()).isEqualTo(Problem.MIGRATION_PAST_SWITCHOVER));
    }

    @Test
    void aFailureKeepsItsReasonAndFreesTheRegion() {
        Migration job = job();
        job.fail("x".repeat(5000), T0);

        assertThat(job.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(job.error()).hasSize(Migration.MAX_ERROR_LENGTH);
        assertThat(job.secret()).isNull();
    }

    @Test
    void statisticsStoredBeforeCompressionExistedReadBackWithNothingCompressed() {
        String stored = "{\"regionBytes\":1048576,\"totalMs\":900,\"setupMs\":3,\"downtimeMs\":2,"
                + "\"transferred\":{\"precopyBytes\":1048576,\"postcopyBytes\":0,\"demandBytes\":4096,"
                + "\"precopyPages\":256,\"postcopyPages\":0,\"demandPages\":1},\"remainingBytes\":0,"
                + "\"dirtyRateBytesPerSec\":0,\"rounds\":2,\"postcopyRequests\":1,"
                + "\"demandLatency\":{\"count\":1,\"p50Ns\":100,\"p99Ns\":100,\"maxNs\":100},"
                + "\"blockedNs\":100,\"throughputBytesPerSec\":1165084}";

        MigrationStats stats = new MigrationJson.Stats().convertToEntityAttribute(stored);

        assertThat(stats.transferred().precopyPages()).isEqualTo(256);
        assertThat(stats.transferred().compressedPages()).isZero();
        assertThat(stats.transferred().compressedBytes()).isZero();
        assertThat(stats.throttle()).as("stored before auto-converge: no throttle").isNull();
        assertThat(stats.transferred().unchangedPages()).as("stored before skip-unchanged: none counted").isZero();
        assertThat(stats.pushConnections()).as("stored before push connections: not known").isNull();
    }

    @Test
    void unchangedPagesAreSkippedUnlessTheJobSaysOtherwise() {
        assertThat(job().options().skipUnchanged()).as("the agent's default").isTrue();
        MigrationOptions everyPage = new MigrationOptions(10, 0, 10, MigrationOptions.Postcopy.AUTO, 30_000,
                MigrationOptions.Compress.NONE, false, false, 1);
        Migration job = new Migration(UUID.randomUUID(), "demo", 1 << 20, "node-a", "node-b", everyPage,
                "0".repeat(64), "ops", T0);

        assertThat(job.options()).isEqualTo(everyPage);
    }

    private static void assertWrongPhase(Runnable request) {
        assertThatThrownBy(request::run).isInstanceOfSatisfying(DomainException.class,
                e -> assertThat(e.kind()).isEqualTo(Problem.MIGRATION_WRONG_PHASE));
    }

    private static Migration job() {
        return new Migration(UUID.randomUUID(), "demo", 1 << 20, "node-a", "node-b", MigrationOptions.DEFAULTS,
                "0".repeat(64), "ops", T0);
    }
}
