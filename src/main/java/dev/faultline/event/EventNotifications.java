package dev.faultline.event;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * On PostgreSQL, wakes the event stream's tailer when any instance commits an event: publishing
 * sends {@code NOTIFY faultline_events} in the event's transaction (delivered at commit), and
 * this listener holds one pooled connection that LISTENs. A lost connection is replaced after a
 * pause, and the tailer catches up at once, so nothing is missed; the tailer's poll stays as the
 * safety net. Not used on H2, where the poll alone carries events between instances.
 */
final class EventNotifications {

    static final String CHANNEL = "faultline_events";
    private static final Logger log = LoggerFactory.getLogger(EventNotifications.class);
    private static final int WAIT_MS = 5_000;
    private static final Duration RECONNECT = Duration.ofSeconds(1);

    private final DataSource dataSource;
    private final Runnable wake;
    private volatile boolean running;
    private volatile boolean listening;
    private Thread thread;

    EventNotifications(DataSource dataSource, Runnable wake) {
        this.dataSource = dataSource;
        this.wake = wake;
    }

    static boolean supported(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            return "PostgreSQL".equals(c.getMetaData().getDatabaseProductName());
        } catch (SQLException e) {
            return false;
        }
    }

    void start() {
        running = true;
        thread = new Thread(this::listen, "event-notifications");
        thread.setDaemon(true);
        thread.start();
    }

    void stop() {
        running = false;
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }

    /** Whether a LISTEN connection is up right now. */
    boolean listening() {
        return listening;
    }

    private void listen() {
        while (running) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(true);
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + CHANNEL);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                listening = true;
                wake.run(); // what was committed while nobody listened
                while (running) {
                    PGNotification[] received = pg.getNotifications(WAIT_MS);
                    if (received != null && received.length > 0) {
                        wake.run();
                    }
                }
            } catch (SQLException e) {
                if (running) {
                    log.warn("event notifications lost their connection ({}); the stream polls until it is back",
                            e.getMessage());
                }
            } finally {
                listening = false;
            }
            if (running) {
                LockSupport.parkNanos(RECONNECT.toNanos());
            }
        }
    }
}
