package dev.faultline.region;

import dev.faultline.web.ApiException;
import dev.faultline.PageResponse;
import dev.faultline.web.ProblemKind;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.validation.annotation.Validated;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/regions")
@Tag(name = "Regions", description = "Memory regions whose faults an agent serves")
@Validated
class RegionController {

    private final RegionService regions;

    RegionController(RegionService regions) {
        this.regions = regions;
    }

    @GetMapping
    @Operation(summary = "List regions, newest first")
    PageResponse<RegionView> list(
            @Parameter(description = "label selector, e.g. app=db,tier!=cache,env in (prod,stage)")
            @RequestParam(required = false) String selector,
            @RequestParam(required = false) RegionState state,
            @RequestParam(defaultValue = "0") @Min(0) int page,
            @RequestParam(defaultValue = "50") @Min(1) @Max(500) int size) {
        return regions.list(selector, state, page, size);
    }

    @GetMapping("/totals")
    @Operation(summary = "How many regions there are by state, the bytes attached and their faults (for the overview)")
    RegionTotals totals() {
        return regions.totals();
    }

    @GetMapping("/{id}")
    @Operation(summary = "A region with its live statistics; the ETag is for If-Match on PATCH")
    ResponseEntity<RegionView> get(@PathVariable UUID id) {
        RegionView region = regions.get(id);
        return ResponseEntity.ok().eTag(region.etag()).body(region);
    }

    record LabelsPatch(@NotNull Map<String, String> labels) {
    }

    @PatchMapping(value = "/{id}", consumes = {"application/merge-patch+json", "application/json"})
    @Operation(summary = "Change labels (JSON merge patch: a null value removes a label); needs If-Match")
    ResponseEntity<RegionView> patch(@PathVariable UUID id,
            @RequestHeader(value = HttpHeaders.IF_MATCH, required = false) String ifMatch,
            @RequestBody @Validated LabelsPatch patch) {
        RegionView region = regions.relabel(id, expectedVersion(ifMatch), patch.labels());
        return ResponseEntity.ok().eTag(region.etag()).body(region);
    }

    @DeleteMapping("/{id}")
    @Operation(summary = "Detach safely: populate every missing page, then release the region (202: follow its state)")
    ResponseEntity<RegionView> detach(@PathVariable UUID id, @RequestParam(defaultValue = "true") boolean populate) {
        return ResponseEntity.accepted().body(regions.detach(id, populate));
    }

    static long expectedVersion(String ifMatch) {
        if (ifMatch == null || ifMatch.isBlank()) {
            throw new ApiException(ProblemKind.PRECONDITION_REQUIRED,
                    "send If-Match with the ETag from GET, so a concurrent change is not overwritten");
        }
        String tag = ifMatch.strip();
        if (tag.startsWith("W/")) {
            tag = tag.substring(2);
        }
        try {
            return Long.parseLong(tag.replace("\"", ""));
        } catch (NumberFormatException e) {
            throw new ApiException(ProblemKind.PRECONDITION_FAILED, "If-Match " + ifMatch + " is not an ETag of this region");
        }
    }
}
