package dev.faultline.event;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.util.List;
import java.util.UUID;
import org.springframework.http.MediaType;
import org.springframework.validation.annotation.Validated;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

@RestController
@RequestMapping("/api/v1/events")
@Tag(name = "Events", description = "What happened to regions, restores, snapshots and migrations")
@Validated
class EventController {

    private final EventService events;

    EventController(EventService events) {
        this.events = events;
    }

    @GetMapping
    @Operation(summary = "Recent events, newest first, optionally of one subject; older ones page by id with before")
    List<EventView> recent(@RequestParam(defaultValue = "100") @Min(1) @Max(1000) int limit,
            @RequestParam(required = false) String subjectType, @RequestParam(required = false) String subjectId,
            @Parameter(description = "only events with a smaller id: the last id of the previous page")
            @RequestParam(required = false) @Min(1) Long before) {
        return events.recent(limit, subjectType, subjectId, before);
    }

    @GetMapping(value = "/stream", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    @Operation(summary = "Server-sent events; each has an id, reconnect with Last-Event-ID to resume without gaps")
    SseEmitter stream(@RequestHeader(value = "Last-Event-ID", required = false) Long lastEventId,
            @RequestParam(required = false) Long after,
            @AuthenticationPrincipal(expression = "tokenId") UUID tokenId) {
        return events.subscribe(lastEventId != null ? lastEventId : after, tokenId);
    }
}
