package dev.faultline.restore;

import dev.faultline.label.LabelLimits;
import dev.faultline.label.LabelsJson;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/** A lazy-restore session: a memory image served to whichever workload connects to its socket. */
@Entity
@Table(name = "restore_session")
class RestoreSession {

    @Id
    private UUID id;

    @Column(nullable = false)
    private String node;

    @Column(nullable = false)
    private String name;

    @Convert(converter = LabelsJson.class)
    @Column(nullable = false, length = LabelLimits.COLUMN_LENGTH)
    private Map<String, String> labels = new TreeMap<>();

    @Column(name = "image_path", nullable = false)
    private String imagePath;

    @Column(name = "image_size", nullable = false)
    private long imageSize;

    /** The snapshot a session of a snapshot's restore serves (its image is the agent's flat copy); null for an image. */
    @Column(name = "snapshot_id")
    private UUID snapshotId;

    @Column(name = "fault_around_pages", nullable = false)
    private int faultAroundPages;

    @Column(name = "populate_delay_ms", nullable = false)
    private long populateDelayMs;

    @Column(name = "working_set", nullable = false)
    private String workingSet;

    /** {@code copy} or {@code clone} (PROTOCOL.md §2.6). */
    @Column(nullable = false, length = 8)
    private String mode = "copy";

    private String socket;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false)
    private RestoreState state;

    private String error;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "closed_at")
    private Instant closedAt;

    @Version
    private long version;

    protected RestoreSession() {
    }

    RestoreSession(String node, String name, Map<String, String> labels, String imagePath, long imageSize,
            int faultAroundPages, long populateDelayMs, String workingSet, Instant now) {
        this(node, name, labels, imagePath, imageSize, faultAroundPages, populateDelayMs, workingSet, "copy", now);
    }

    RestoreSession(String node, String name, Map<String, String> labels, String imagePath, long imageSize,
            int faultAroundPages, long populateDelayMs, String workingSet, String mode, Instant now) {
        this.id = UUID.randomUUID();
        this.mode = mode;
        this.node = node;
        this.name = name;
        this.labels = new TreeMap<>(labels);
        this.imagePath = imagePath;
        this.imageSize = imageSize;
        this.faultAroundPages = faultAroundPages;
        this.populateDelayMs = populateDelayMs;
        this.workingSet = workingSet;
        this.state = RestoreState.WAITING;
        this.createdAt = now;
    }

    /** A session for another instance's node: that instance checks the image and opens it. */
    static RestoreSession requested(String node, String name, Map<String, String> labels, String imagePath,
            int faultAroundPages, long populateDelayMs, String workingSet, Instant now) {
        return requested(node, name, labels, imagePath, faultAroundPages, populateDelayMs, workingSet, "copy", now);
    }

    static RestoreSession requested(String node, String name, Map<String, String> labels, String imagePath,
            int faultAroundPages, long populateDelayMs, String workingSet, String mode, Instant now) {
        RestoreSession session = new RestoreSession(node, name, labels, imagePath, 0, faultAroundPages,
                populateDelayMs, workingSet, mode, now);
        session.state = RestoreState.REQUESTED;
        return session;
    }

    /**
     * A session an agent holds that this service had not recorded: one a snapshot's restore just
     * opened, or one found on the agent (opened while the service was down or lost its record).
     * Its fields are what the agent reports.
     */
    static RestoreSession adopted(UUID id, String node, String name, Map<String, String> labels, UUID snapshotId,
            String imagePath, long imageSize, String socket, int faultAroundPages, long populateDelayMs,
            String workingSet, RestoreState state, String error, Instant createdAt) {
        RestoreSession session = new RestoreSession(node, name, labels, imagePath, imageSize, faultAroundPages,
                populateDelayMs, workingSet, createdAt);
        session.id = id;
        session.snapshotId = snapshotId;
        session.socket = socket;
        if (state == RestoreState.FAILED) {
            session.fail(error == null ? "failed on the agent" : error);
        } else {
            session.state = state;
        }
        return session;
    }

    /** The managing instance checked the requested image (now resolved) and its agent opened the socket. */
    void openedAsRequested(String realImagePath, long size, String socketPath) {
        if (state != RestoreState.REQUESTED) {
            throw new IllegalStateException("restore session " + id + " is " + state + ", not REQUESTED");
        }
        imagePath = realImagePath;
        imageSize = size;
        socket = socketPath;
        state = RestoreState.WAITING;
    }

    /** The agent opened the session's socket. */
    void opened(String socketPath) {
        this.socket = socketPath;
    }

    /** Follows the agent's state; final states stay final. Returns true when something changed. */
    boolean observe(RestoreState reported, String reportedError, Instant now) {
        if (state.isFinal() || (state == reported && java.util.Objects.equals(error, reportedError))) {
            return false;
        }
        state = reported;
        error = reportedError;
        if (reported == RestoreState.CLOSED) {
            closedAt = now;
        }
        return true;
    }

    void fail(String reason) {
        if (!state.isFinal()) {
            state = RestoreState.FAILED;
            error = reason.length() > 1024 ? reason.substring(0, 1021) + "..." : reason; // the column's width
        }
    }

    void close(Instant now) {
        if (state != RestoreState.CLOSED) {
            state = RestoreState.CLOSED;
            closedAt = now;
        }
    }

    UUID id() {
        return id;
    }

    String node() {
        return node;
    }

    String name() {
        return name;
    }

    Map<String, String> labels() {
        return labels;
    }

    String imagePath() {
        return imagePath;
    }

    long imageSize() {
        return imageSize;
    }

    int faultAroundPages() {
        return faultAroundPages;
    }

    long populateDelayMs() {
        return populateDelayMs;
    }

    String workingSet() {
        return workingSet;
    }

    String mode() {
        return mode;
    }

    String socket() {
        return socket;
    }

    UUID snapshotId() {
        return snapshotId;
    }

    RestoreState state() {
        return state;
    }

    String error() {
        return error;
    }

    Instant createdAt() {
        return createdAt;
    }

    Instant closedAt() {
        return closedAt;
    }
}
