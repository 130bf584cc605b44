package dev.faultline.snapshot;

import dev.faultline.PageResponse;
import dev.faultline.label.Labels;
import dev.faultline.security.TokenPrincipal;
import dev.faultline.web.ApiException;
import dev.faultline.web.ProblemKind;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/snapshots")
@Tag(name = "Snapshots", description = "The snapshot catalog: take, list, verify, restore and delete snapshots")
class SnapshotController {

    static final String UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

    private final SnapshotService snapshots;

    SnapshotController(SnapshotService snapshots) {
        this.snapshots = snapshots;
    }

    /**
     * @param kind FULL (the default) or INCREMENTAL
     * @param parentId for INCREMENTAL: the snapshot to base it on; by default the region's latest
     *     completed snapshot
     */
    record TakeSnapshotRequest(
            // text checked here so a malformed id gets a field error, not an unreadable body
            @NotNull @Pattern(regexp = UUID_PATTERN, message = "must be a region id (a UUID)")
            @Schema(format = "uuid") String regionId,
            SnapshotKind kind,
            UUID parentId) {
    }

    /** Both optional: by default the restored region is named and labelled like the snapshot's region. */
    record RestoreSnapshotRequest(@Size(min = 1, max = 127) String name, @Size(max = 64) Map<String, String> labels,
            @Pattern(regexp = "copy|clone", message = "must be copy or clone") String mode) {
    }

    @PostMapping
    @Operation(summary = "Take a snapshot of a region now; answers 202 with the snapshot in PENDING")
    ResponseEntity<SnapshotView> take(@Valid @RequestBody TakeSnapshotRequest request,
            @AuthenticationPrincipal TokenPrincipal caller) {
        SnapshotView snapshot = snapshots.take(UUID.fromString(request.regionId()),
                request.kind() == null ? SnapshotKind.FULL : request.kind(), request.parentId(), caller.name());
        return ResponseEntity.accepted().location(URI.create("/api/v1/snapshots/" + snapshot.id())).body(snapshot);
    }

    @GetMapping
    @Operation(summary = "List snapshots, newest first; without a state filter, DELETED ones are left out")
    PageResponse<SnapshotView> list(
            @RequestParam(required = false) @Pattern(regexp = UUID_PATTERN, message = "must be a region id (a UUID)")
            @Parameter(schema = @Schema(format = "uuid")) String regionId,
            @RequestParam(required = false) UUID policyId,
            @RequestParam(name = "state", required = false) List<SnapshotState> states,
            @RequestParam(required = false) SnapshotKind kind,
            @RequestParam(required = false) Instant createdFrom,
            @RequestParam(required = false) Instant createdTo,
            @RequestParam(defaultValue = "0") @Min(0) int page,
            @RequestParam(defaultValue = "50") @Min(1) @Max(500) int size) {
        if (createdFrom != null && createdTo != null && !createdFrom.isBefore(createdTo)) {
            throw new ApiException(ProblemKind.BAD_REQUEST, "createdFrom must be before createdTo");
        }
        return snapshots.list(new SnapshotFilter(regionId == null ? null : UUID.fromString(regionId), policyId, states, kind, createdFrom, createdTo), page, size);
    }

    @GetMapping("/{id}")
    @Operation(summary = "One snapshot")
    SnapshotView get(@PathVariable UUID id) {
        return snapshots.get(id);
    }

    @PostMapping("/{id}/verify")
    @Operation(summary = "Re-read the image and check every page checksum; answers 202 with the operation")
    ResponseEntity<SnapshotOperationView> verify(@PathVariable UUID id, @AuthenticationPrincipal TokenPrincipal caller) {
        return accepted(snapshots.verify(id, caller.name()));
    }

    @PostMapping("/{id}/restore")
    @Operation(summary = "Open a restore session serving this snapshot (and its chain); answers 202 with the operation")
    ResponseEntity<SnapshotOperationView> restore(@PathVariable UUID id,
            @Valid @RequestBody(required = false) RestoreSnapshotRequest request,
            @AuthenticationPrincipal TokenPrincipal caller) {
        RestoreSnapshotRequest options = request == null ? new RestoreSnapshotRequest(null, null, null) : request;
        String labelsProblem = options.labels() == null ? null : Labels.problem(options.labels());
        if (labelsProblem != null) {
            throw new ApiException(ProblemKind.VALIDATION, "labels: " + labelsProblem);
        }
        return accepted(snapshots.restore(id, options.name(), options.labels(),
                options.mode() == null ? "copy" : options.mode(), caller.name()));
    }

    @DeleteMapping("/{id}")
    @Operation(summary = "Delete a snapshot: 202 with the operation, or 204 when already deleted. Refused while an"
            + " incremental snapshot depends on it, unless consolidate=true folds it into its dependents first")
    ResponseEntity<SnapshotOperationView> delete(@PathVariable UUID id,
            @RequestParam(defaultValue = "false") boolean consolidate,
            @AuthenticationPrincipal TokenPrincipal caller) {
        return snapshots.delete(id, consolidate, caller.name()).map(SnapshotController::accepted)
                .orElseGet(() -> ResponseEntity.noContent().build());
    }

    @GetMapping("/{id}/operations")
    @Operation(summary = "The verifications, restores and deletions of a snapshot, newest first")
    List<SnapshotOperationView> operations(@PathVariable UUID id) {
        return snapshots.operations(id);
    }

    @GetMapping("/{id}/operations/{operationId}")
    @Operation(summary = "One operation on a snapshot")
    SnapshotOperationView operation(@PathVariable UUID id, @PathVariable UUID operationId) {
        return snapshots.operation(id, operationId);
    }

    private static ResponseEntity<SnapshotOperationView> accepted(SnapshotOperationView op) {
        return ResponseEntity.accepted()
                .location(URI.create("/api/v1/snapshots/" + op.snapshotId() + "/operations/" + op.id())).body(op);
    }
}
