package dev.faultline.policy;

import dev.faultline.PageResponse;
import dev.faultline.web.ApiException;
import dev.faultline.web.ProblemKind;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.validation.BeanPropertyBindingResult;
import org.springframework.validation.beanvalidation.SpringValidatorAdapter;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerMapping;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

@RestController
@RequestMapping("/api/v1/snapshot-policies")
@Tag(name = "Snapshot policies", description = "Label selector + cron schedule in a time zone + retention rules")
class PolicyController {

    static final String MERGE_PATCH = "application/merge-patch+json";

    private final PolicyService policies;
    private final JsonMapper json;
    private final SpringValidatorAdapter validator;

    PolicyController(PolicyService policies, JsonMapper json, jakarta.validation.Validator validator) {
        this.policies = policies;
        this.json = json;
        this.validator = new SpringValidatorAdapter(validator);
    }

    @PostMapping
    @Operation(summary = "Create a policy")
    ResponseEntity<PolicyView> create(@Valid @RequestBody PolicyRequest request) {
        PolicyView policy = policies.create(request);
        return ResponseEntity.created(URI.create("/api/v1/snapshot-policies/" + policy.id())).eTag(policy.etag())
                .body(policy);
    }

    @GetMapping
    @Operation(summary = "List policies by name")
    List<PolicyView> list() {
        return policies.list();
    }

    @GetMapping("/{id}")
    @Operation(summary = "One policy; its ETag header is what PUT, PATCH and DELETE take in If-Match")
    ResponseEntity<PolicyView> get(@PathVariable UUID id) {
        return withEtag(policies.get(id));
    }

    @PutMapping("/{id}")
    @Operation(summary = "Replace a policy; needs If-Match (428 without it, 412 when it is not the current ETag)")
    ResponseEntity<PolicyView> replace(@PathVariable UUID id,
            @RequestHeader(name = HttpHeaders.IF_MATCH, required = false) String ifMatch,
            @Valid @RequestBody PolicyRequest request) {
        return withEtag(policies.replace(id, ifMatch, request));
    }

    /**
     * RFC 7396 JSON merge patch: members replace, {@code null} restores a default, objects
     * (retention) merge. The merged policy is validated like a PUT and written only if it is
     * still the version that was patched.
     */
    @PatchMapping(path = "/{id}", consumes = {MERGE_PATCH, "application/json"})
    @Operation(summary = "Change some fields (JSON merge patch); needs If-Match like PUT")
    ResponseEntity<PolicyView> patch(@PathVariable UUID id,
            @RequestHeader(name = HttpHeaders.IF_MATCH, required = false) String ifMatch,
            @RequestBody JsonNode patch, HttpServletRequest http) throws MethodArgumentNotValidException {
        PolicyView current = policies.getIfMatch(id, ifMatch);
        if (!patch.isObject()) {
            throw new ApiException(ProblemKind.BAD_REQUEST, "a merge patch of a policy must be a JSON object");
        }
        PolicyRequest merged;
        try {
            merged = json.treeToValue(mergePatch(json.valueToTree(PolicyRequest.of(current)), patch), PolicyRequest.class);
        } catch (JacksonException e) {
            throw new ApiException(ProblemKind.BAD_REQUEST, "the patched policy cannot be read: " + e.getOriginalMessage());
        }
        BeanPropertyBindingResult errors = new BeanPropertyBindingResult(merged, "policyRequest");
        validator.validate(merged, errors);
        if (errors.hasErrors()) {
            HandlerMethod handler = (HandlerMethod) http.getAttribute(HandlerMapping.BEST_MATCHING_HANDLER_ATTRIBUTE);
            throw new MethodArgumentNotValidException(handler.getMethodParameters()[2], errors);
        }
        return withEtag(policies.replace(id, current.etag(), merged));
    }

    @DeleteMapping("/{id}")
    @Operation(summary = "Delete a policy and its run history; its snapshots stay. If-Match is checked when sent")
    ResponseEntity<Void> delete(@PathVariable UUID id,
            @RequestHeader(name = HttpHeaders.IF_MATCH, required = false) String ifMatch) {
        policies.delete(id, ifMatch);
        return ResponseEntity.noContent().build();
    }

    @PostMapping("/{id}/pause")
    @Operation(summary = "Stop running the policy (pruning stops too); pausing a paused policy changes nothing")
    ResponseEntity<PolicyView> pause(@PathVariable UUID id) {
        return withEtag(policies.pause(id));
    }

    @PostMapping("/{id}/resume")
    @Operation(summary = "Run the policy again from its next fire time; fire times missed while paused are not run")
    ResponseEntity<PolicyView> resume(@PathVariable UUID id) {
        return withEtag(policies.resume(id));
    }

    @GetMapping("/{id}/preview")
    @Operation(summary = "The next fire times (in the policy's zone and UTC) and a dry run of retention now")
    PolicyPreview preview(@PathVariable UUID id, @RequestParam(defaultValue = "5") @Min(1) @Max(100) int count) {
        return policies.preview(id, count);
    }

    @GetMapping("/{id}/runs")
    @Operation(summary = "What each fire time did for each region, newest first")
    PageResponse<PolicyRunView> runs(@PathVariable UUID id, @RequestParam(defaultValue = "0") @Min(0) int page,
            @RequestParam(defaultValue = "50") @Min(1) @Max(500) int size) {
        return policies.runs(id, page, size);
    }

    private static ResponseEntity<PolicyView> withEtag(PolicyView policy) {
        return ResponseEntity.ok().eTag(policy.etag()).body(policy);
    }

    /** RFC 7396 §2. */
    static JsonNode mergePatch(JsonNode target, JsonNode patch) {
        if (!patch.isObject()) {
            return patch;
        }
        ObjectNode result = target != null && target.isObject() ? (ObjectNode) target.deepCopy()
                : JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> member : patch.properties()) {
            if (member.getValue().isNull()) {
                result.remove(member.getKey());
            } else {
                result.set(member.getKey(), mergePatch(result.get(member.getKey()), member.getValue()));
            }
        }
        return result;
    }
}
