package dev.faultline.event;

import dev.faultline.FaultlineProperties;
import dev.faultline.TokenRevoked;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import net.javacrumbs.shedlock.spring.annotation.SchedulerLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.data.domain.Limit;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Records events and streams them to subscribers. The stream tails the event table rather
 * than an in-memory queue, so a subscriber connected to any service instance sees the events
 * of every node sharing the database, and a reconnecting client resumes from its last id. On
 * PostgreSQL every published event also sends a NOTIFY that wakes the tailer of every instance
 * ({@link EventNotifications}), so events of other instances arrive without the poll's delay.
 */
@Service
public class EventService implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(EventService.class);
    private static final int BATCH = 500;
    private static final Duration HEARTBEAT = Duration.ofSeconds(15);

    private final EventRepository events;
    private final EventProperties properties;
    private final Clock clock;
    private final String node;
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private final List<SseEmitter> subscribers = new CopyOnWriteArrayList<>();
    /** The streams each token holds open, to bound them and to close them when it is revoked. */
    private final Map<UUID, List<SseEmitter>> streamsOf = new HashMap<>();
    private final int maxStreamsPerToken;
    private volatile ScheduledExecutorService tailer;
    private volatile long lastBroadcast;
    private final JdbcTemplate jdbc;
    private final TransactionTemplate tx;
    /** Null on databases without LISTEN/NOTIFY (H2). */
    private final EventNotifications notifications;

    EventService(EventRepository events, EventProperties eventProperties, Clock clock, FaultlineProperties properties,
            DataSource dataSource, PlatformTransactionManager transactions) {
        this.events = events;
        this.tx = new TransactionTemplate(transactions);
        this.jdbc = new JdbcTemplate(dataSource);
        this.notifications = EventNotifications.supported(dataSource)
                ? new EventNotifications(dataSource, this::wake) : null;
        this.properties = eventProperties;
        this.maxStreamsPerToken = eventProperties.maxStreamsPerToken();
        this.clock = clock;
        this.node = properties.nodeName();
    }

    /**
     * Records an event in the caller's transaction (it appears when the change it describes
     * commits) and wakes the stream once that transaction has committed.
     */
    @Transactional
    public void publish(String kind, String subjectType, Object subjectId, String message, Map<String, ?> data) {
        events.save(new Event(clock.instant(), node, kind, subjectType, String.valueOf(subjectId), message,
                data == null || data.isEmpty() ? null : JSON.writeValueAsString(data)));
        if (notifications != null) {
            // in the event's transaction: PostgreSQL delivers it when (and only if) that commits
            jdbc.queryForList("SELECT pg_notify(?, '')", EventNotifications.CHANNEL);
        }
        if (TransactionSynchronizationManager.isSynchronizationActive()) {
            TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
                @Override
                public void afterCommit() {
                    wake();
                }
            });
        }
    }

    /**
     * Deletes events older than {@code faultline.events.retention}; returns how many. A cluster-wide
     * duty: one instance prunes, at most once every 50 minutes however many share the database
     * (boxed: ShedLock answers null on the instances that skip it).
     */
    @Scheduled(fixedDelayString = "PT1H", initialDelayString = "PT1M")
    @SchedulerLock(name = "event-prune", lockAtMostFor = "PT55M", lockAtLeastFor = "PT50M")
    public Long prune() {
        // a transaction of its own inside the lock, whose row commits on its own
        long deleted = tx.execute(status -> events.deleteByOccurredAtBefore(clock.instant().minus(properties.retention())));
        if (deleted > 0) {
            log.info("deleted {} events older than {}", deleted, properties.retention());
        }
        return deleted;
    }

    @Transactional(readOnly = true)
    public List<EventView> recent(int limit, String subjectType, String subjectId) {
        return recent(limit, subjectType, subjectId, null);
    }

    /**
     * The newest {@code limit} events (of one subject, if given) older than event {@code before}
     * (if given): the next page of the log is the one before the last id of this one. By id,
     * not by offset, so events published meanwhile do not shift the pages.
     */
    @Transactional(readOnly = true)
    public List<EventView> recent(int limit, String subjectType, String subjectId, Long before) {
        boolean subject = subjectType != null && subjectId != null;
        List<Event> found = before == null
                ? (subject ? events.findBySubjectTypeAndSubjectIdOrderByIdDesc(subjectType, subjectId, Limit.of(limit))
                        : events.findByOrderByIdDesc(Limit.of(limit)))
                : (subject ? events.findBySubjectTypeAndSubjectIdAndIdLessThanOrderByIdDesc(subjectType, subjectId,
                        before, Limit.of(limit)) : events.findByIdLessThanOrderByIdDesc(before, Limit.of(limit)));
        return found.stream().map(Event::view).toList();
    }

    /**
     * A new stream: replays what came after {@code afterId} (if given), then follows live. The
     * replay and the registration run on the tailer thread, between two broadcasts, so no event
     * is missed or sent twice.
     */
    public SseEmitter subscribe(Long afterId, UUID tokenId) {
        SseEmitter emitter = new SseEmitter(Duration.ofMinutes(30).toMillis());
        synchronized (streamsOf) {
            List<SseEmitter> held = streamsOf.computeIfAbsent(tokenId, id -> new ArrayList<>());
            if (held.size() >= maxStreamsPerToken) {
                throw new DomainException(Problem.TOO_MANY_REQUESTS, "this token already holds " + held.size()
                        + " event streams (faultline.events.max-streams-per-token): close one first");
            }
            held.add(emitter);
        }
        Runnable forget = () -> {
            subscribers.remove(emitter);
            synchronized (streamsOf) {
                List<SseEmitter> held = streamsOf.get(tokenId);
                if (held != null && held.remove(emitter) && held.isEmpty()) {
                    streamsOf.remove(tokenId);
                }
            }
        };
        emitter.onCompletion(forget);
        emitter.onTimeout(forget);
        emitter.onError(e -> forget.run());
        ScheduledExecutorService t = tailer;
        if (t == null) {
            emitter.complete();
            return emitter;
        }
        t.execute(() -> {
            if (subscribers.isEmpty()) {
                catchUp(); // nobody followed: the poll skipped what other instances published meanwhile
            }
            long from = afterId != null ? Math.min(afterId, lastBroadcast) : lastBroadcast;
            try {
                emitter.send(SseEmitter.event().comment("faultline events after id " + from));
                for (Event e : events.findByIdGreaterThanOrderByIdAsc(from, Limit.of(1000))) {
                    if (e.id() <= lastBroadcast) {
                        send(emitter, e.view());
                    }
                }
                subscribers.add(emitter);
            } catch (IOException | IllegalStateException e) {
                emitter.completeWithError(e);
            }
        });
        return emitter;
    }

    /** A revoked token's streams end now: what it could read until then is all it gets. */
    @EventListener
    void tokenRevoked(TokenRevoked revoked) {
        List<SseEmitter> held;
        synchronized (streamsOf) {
            held = streamsOf.remove(revoked.tokenId());
        }
        if (held != null) {
            held.forEach(emitter -> {
                subscribers.remove(emitter);
                emitter.complete();
            });
            log.info("closed {} event stream(s) of revoked token {}", held.size(), revoked.tokenId());
        }
    }

    /**
     * The poll: only while somebody follows the stream. An idle service with no browser open
     * reads nothing; events published here (or, on PostgreSQL, anywhere) still wake {@link #tail}.
     */
    private void poll() {
        if (!subscribers.isEmpty()) {
            tail();
        }
    }

    /** Skips to the newest event without sending anything (nobody to send it to). */
    private void catchUp() {
        try {
            events.findByOrderByIdDesc(Limit.of(1)).stream().findFirst()
                    .ifPresent(e -> lastBroadcast = Math.max(lastBroadcast, e.id()));
        } catch (RuntimeException e) {
            log.warn("event stream could not read the newest event: {}", e.getMessage());
        }
    }

    private void tail() {
        try {
            List<Event> batch;
            do {
                batch = events.findByIdGreaterThanOrderByIdAsc(lastBroadcast, Limit.of(BATCH));
                for (Event e : batch) {
                    EventView view = e.view();
                    subscribers.forEach(s -> send(s, view));
                    lastBroadcast = e.id();
                }
            } while (batch.size() == BATCH);
        } catch (RuntimeException e) {
            log.warn("event stream could not read new events: {}", e.getMessage());
        }
    }

    private void heartbeat() {
        subscribers.forEach(s -> {
            try {
                s.send(SseEmitter.event().comment("keep-alive"));
            } catch (IOException | IllegalStateException e) {
                subscribers.remove(s);
            }
        });
    }

    private void send(SseEmitter emitter, EventView event) {
        try {
            emitter.send(SseEmitter.event().id(Long.toString(event.id())).name(event.kind())
                    .data(event, MediaType.APPLICATION_JSON));
        } catch (IOException | IllegalStateException e) {
            subscribers.remove(emitter); // the client went away; its reconnect resumes from Last-Event-ID
        }
    }

    private void wake() {
        ScheduledExecutorService t = tailer;
        if (t != null) {
            try {
                t.execute(this::tail);
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                // shutting down
            }
        }
    }

    @Override
    public void start() {
        lastBroadcast = events.findByOrderByIdDesc(Limit.of(1)).stream().findFirst().map(Event::id).orElse(0L);
        ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "event-stream");
            thread.setDaemon(true);
            return thread;
        });
        long poll = properties.pollInterval().toMillis();
        t.scheduleWithFixedDelay(this::poll, poll, poll, TimeUnit.MILLISECONDS);
        t.scheduleWithFixedDelay(this::heartbeat, HEARTBEAT.toMillis(), HEARTBEAT.toMillis(), TimeUnit.MILLISECONDS);
        tailer = t;
        if (notifications != null) {
            notifications.start();
        }
    }

    /** Whether events of other instances wake the stream at once (PostgreSQL LISTEN/NOTIFY) rather than by polling. */
    public boolean notified() {
        return notifications != null && notifications.listening();
    }

    long lastBroadcast() {
        return lastBroadcast;
    }

    @Override
    public void stop() {
        if (notifications != null) {
            notifications.stop();
        }
        ScheduledExecutorService t = tailer;
        tailer = null;
        if (t != null) {
            t.shutdownNow();
        }
        subscribers.forEach(SseEmitter::complete);
        subscribers.clear();
    }

    @Override
    public boolean isRunning() {
        return tailer != null;
    }
}
