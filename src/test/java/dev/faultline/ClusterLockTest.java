package dev.faultline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.SimpleLock;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/** The shedlock table of the migrations works with the provider's SQL, on H2 and on PostgreSQL. */
@JpaSliceTest
@Import(ClusterLockConfig.class)
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class ClusterLockTest {

    @Autowired
    LockProvider locks;

    @Test
    void aDutyLockIsHeldByOneTakerUntilReleased() {
        LockConfiguration duty = new LockConfiguration(Instant.now(), "test-duty", Duration.ofMinutes(1), Duration.ZERO);
        Optional<SimpleLock> first = locks.lock(duty);
        assertThat(first).isPresent();
        assertThat(locks.lock(duty)).as("a second instance does not get it").isEmpty();
        first.get().unlock();
        Optional<SimpleLock> again = locks.lock(duty);
        assertThat(again).as("free again once released").isPresent();
        again.get().unlock();
    }
}
