package dev.faultline.event;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** Something that happened to a region, restore, snapshot or migration. Immutable once written. */
@Entity
@Table(name = "event")
class Event {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "occurred_at", nullable = false)
    private Instant occurredAt;

    @Column(nullable = false)
    private String node;

    @Column(nullable = false)
    private String kind;

    @Column(name = "subject_type", nullable = false)
    private String subjectType;

    @Column(name = "subject_id", nullable = false)
    private String subjectId;

    @Column(nullable = false)
    private String message;

    private String data;

    protected Event() {
    }

    Event(Instant occurredAt, String node, String kind, String subjectType, String subjectId, String message,
            String data) {
        this.occurredAt = occurredAt;
        this.node = node;
        this.kind = kind;
        this.subjectType = subjectType;
        this.subjectId = subjectId;
        this.message = message.length() > 1024 ? message.substring(0, 1021) + "..." : message;
        // the column's width: an oversized detail must not cost the event (nor its caller's transaction)
        this.data = data != null && data.length() > MAX_DATA_LENGTH ? "{\"truncated\":true}" : data;
    }

    static final int MAX_DATA_LENGTH = 8192;

    EventView view() {
        return new EventView(id, occurredAt, node, kind, subjectType, subjectId, message, data);
    }

    Long id() {
        return id;
    }
}
