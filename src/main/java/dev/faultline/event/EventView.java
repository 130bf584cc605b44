package dev.faultline.event;

import com.fasterxml.jackson.annotation.JsonRawValue;
import java.time.Instant;

/**
 * An event as the API and the stream show it.
 *
 * @param kind e.g. {@code region.attached}, {@code restore.complete}, {@code snapshot.failed}
 * @param subjectType {@code region}, {@code restore}, {@code snapshot}, {@code policy}, {@code migration}, {@code agent}
 * @param data details as a JSON object, or null
 */
public record EventView(long id, Instant occurredAt, String node, String kind, String subjectType, String subjectId,
        String message, @JsonRawValue String data) {
}
