package dev.faultline.restore;

import dev.faultline.PageResponse;
import dev.faultline.label.Labels;
import dev.faultline.web.ApiException;
import dev.faultline.web.ProblemKind;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.ResponseEntity;
import org.springframework.validation.annotation.Validated;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/restores")
@Tag(name = "Restores", description = "Lazy restore of processes and Firecracker microVMs from memory images")
@Validated
class RestoreController {

    private final RestoreService restores;

    RestoreController(RestoreService restores) {
        this.restores = restores;
    }

    /** Each bound is the database column's and the agent's (restore_create in native-agent/src/restore.c). */
    record CreateRestoreRequest(
            @NotBlank @Size(max = 4096) String image,
            @NotBlank @Pattern(regexp = "[A-Za-z0-9][A-Za-z0-9._-]{0,126}",
                    message = "must be 1-127 letters, digits, '.', '_' or '-'") String name,
            Map<String, String> labels,
            @Min(0) @Max(512) Integer faultAroundPages,
            @Min(-1) @Max(86_400_000) Long populateDelayMs,
            @Pattern(regexp = "off|record|replay|auto", message = "must be off, record, replay or auto") String workingSet,
            @Pattern(regexp = "copy|clone", message = "must be copy or clone") String mode,
            @Size(min = 1, max = 64) String node) {
    }

    @PostMapping
    @Operation(summary = "Open a lazy-restore session for a memory image; give its socket to the workload or Firecracker")
    ResponseEntity<RestoreView> create(@Valid @RequestBody CreateRestoreRequest request) {
        Map<String, String> labels = request.labels() == null ? Map.of() : request.labels();
        String problem = Labels.problem(labels);
        if (problem != null) {
            throw new ApiException(ProblemKind.VALIDATION, "labels: " + problem);
        }
        RestoreView created = restores.create(new RestoreService.Options(request.node(), request.name(), labels,
                request.image(),
                request.faultAroundPages() == null ? 16 : request.faultAroundPages(),
                request.populateDelayMs() == null ? 1000 : request.populateDelayMs(),
                request.workingSet() == null ? "auto" : request.workingSet(),
                request.mode() == null ? "copy" : request.mode()));
        URI location = URI.create("/api/v1/restores/" + created.id());
        if (created.state() == RestoreState.REQUESTED) {
            // the instance managing the node has not opened it yet: poll the session
            return ResponseEntity.accepted().location(location).body(created);
        }
        return ResponseEntity.created(location).body(created);
    }

    /** What a list may be sorted by: the API's name of each, the entity's property. */
    private static final Map<String, String> SORTABLE = Map.of("createdAt", "createdAt", "name", "name",
            "state", "state", "node", "node");

    @GetMapping
    @Operation(summary = "Restore sessions, one page, with progress; newest first unless sorted otherwise")
    PageResponse<RestoreView> list(
            @Parameter(description = "any of these states (repeat the parameter or separate with commas)")
            @RequestParam(name = "state", required = false) List<RestoreState> states,
            @RequestParam(required = false) @Size(min = 1, max = 127) String name,
            @RequestParam(required = false) @Size(min = 1, max = 64) String node,
            @RequestParam(required = false) UUID snapshotId,
            @Parameter(description = "createdAt, name, state or node, then ',asc' or ',desc' (default createdAt,desc)")
            @RequestParam(defaultValue = "createdAt,desc") String sort,
            @RequestParam(defaultValue = "0") @Min(0) int page,
            @RequestParam(defaultValue = "50") @Min(1) @Max(500) int size) {
        return restores.list(new RestoreFilter(states, name, node, snapshotId), PageRequest.of(page, size, sort(sort)));
    }

    /** {@code field[,asc|desc]}; ties broken by id so that pages do not overlap or skip. */
    private static Sort sort(String sort) {
        String[] parts = sort.split(",", -1);
        String property = SORTABLE.get(parts[0].strip());
        String direction = parts.length > 1 ? parts[1].strip().toLowerCase(java.util.Locale.ROOT) : "asc";
        if (property == null || parts.length > 2 || !(direction.equals("asc") || direction.equals("desc"))) {
            throw new ApiException(ProblemKind.VALIDATION, "sort: '" + sort + "' is not one of createdAt, name, state"
                    + " or node, optionally followed by ',asc' or ',desc'");
        }
        Sort.Direction d = direction.equals("desc") ? Sort.Direction.DESC : Sort.Direction.ASC;
        return Sort.by(d, property).and(Sort.by(d, "id"));
    }

    @GetMapping("/{id}")
    @Operation(summary = "A restore session with its progress (pages present / total) and working-set replay")
    RestoreView get(@PathVariable UUID id) {
        return restores.get(id);
    }

    @DeleteMapping("/{id}")
    @Operation(summary = "Close the session's socket and let go of its images; refused while an attached"
            + " region is not fully populated")
    ResponseEntity<Void> delete(@PathVariable UUID id) {
        restores.delete(id);
        return ResponseEntity.noContent().build();
    }
}
