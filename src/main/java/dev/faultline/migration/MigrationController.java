package dev.faultline.migration;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import dev.faultline.security.TokenPrincipal;
import dev.faultline.PageResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.math.BigInteger;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/migrations")
@Tag(name = "Migrations", description = "Postcopy live migration of regions between nodes")
class MigrationController {

    static final String UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

    private final MigrationService migrations;

    MigrationController(MigrationService migrations) {
        this.migrations = migrations;
    }

    record CreateMigrationRequest(
            @NotNull @Pattern(regexp = UUID_PATTERN, message = "must be a region id (a UUID)")
            @Schema(format = "uuid") String regionId,
            @NotBlank @Size(max = 64) String destinationNode,
            @Valid Options options) {
    }

    /**
     * Every field optional; docs/api-migrations.md has the defaults. Unknown fields are refused, not ignored.
     * Named in the API document: a bare "Options" is taken by the restore's options, and one of the two
     * would describe the other's field.
     */
    @Schema(name = "MigrationRequestOptions")
    static final class Options {
        @Min(value = 1, message = "must be at least 1 ms") @Max(value = 60_000, message = "must be at most 60000 ms")
        public Long maxDowntimeMs;
        @Min(value = 0, message = "must be 0 (unlimited) or more")
        @Max(value = 1L << 40, message = "must be at most 1 TiB/s (1099511627776)")
        public Long bandwidthLimitBytesPerSec;
        @Min(value = 1, message = "must be at least 1 (the first full pass)") @Max(1000)
        public Integer maxPrecopyRounds;
        @Pattern(regexp = "auto|manual", message = "must be auto or manual")
        public String postcopy;
        @Min(0) @Max(value = 86_400_000, message = "must be at most a day (86400000 ms)")
        public Long postcopyAfterMs;
        @Pattern(regexp = "none|zstd", message = "must be none or zstd")
        public String compress;
        /** Taken as it came, so that anything but a JSON boolean is a field error, not unreadable JSON. */
        @TrueOrFalse
        @Schema(implementation = Boolean.class, defaultValue = "false")
        public Object autoConverge;
        /** As autoConverge: a JSON boolean or absent (true). */
        @TrueOrFalse
        @Schema(implementation = Boolean.class, defaultValue = "true")
        public Object skipUnchanged;
        /** Taken as it came too: "2", 1.5 and 2.0 are field errors, not coerced (the agent takes JSON integers only). */
        @WholeNumber(min = MigrationOptions.MIN_PUSH_CONNECTIONS, max = MigrationOptions.MAX_PUSH_CONNECTIONS)
        @Schema(implementation = Integer.class, minimum = "1", maximum = "8", defaultValue = "1")
        public Object pushConnections;
        private final Map<String, Object> unknown = new LinkedHashMap<>();

        @JsonAnySetter
        void unknown(String name, Object value) {
            unknown.put(name, value);
        }

        @com.fasterxml.jackson.annotation.JsonIgnore
        @AssertTrue(message = "has unknown fields; known are maxDowntimeMs, bandwidthLimitBytesPerSec,"
                + " maxPrecopyRounds, postcopy, postcopyAfterMs, compress, autoConverge, skipUnchanged and"
                + " pushConnections")
        boolean isKnownFieldsOnly() {
            return unknown.isEmpty();
        }

        MigrationOptions resolve() {
            MigrationOptions d = MigrationOptions.DEFAULTS;
            // postcopyAfterMs is kept with 'manual' too (forms send every field); only 'auto' uses it
            MigrationOptions.Postcopy mode = postcopy == null ? d.postcopy() : MigrationOptions.Postcopy.of(postcopy);
            return new MigrationOptions(maxDowntimeMs == null ? d.maxDowntimeMs() : maxDowntimeMs,
                    bandwidthLimitBytesPerSec == null ? d.bandwidthLimitBytesPerSec() : bandwidthLimitBytesPerSec,
                    maxPrecopyRounds == null ? d.maxPrecopyRounds() : maxPrecopyRounds, mode,
                    postcopyAfterMs == null ? d.postcopyAfterMs() : postcopyAfterMs,
                    compress == null ? d.compress() : MigrationOptions.Compress.of(compress),
                    autoConverge == null ? d.autoConverge() : (Boolean) autoConverge,
                    skipUnchanged == null ? d.skipUnchanged() : (Boolean) skipUnchanged,
                    pushConnections == null ? d.pushConnections() : ((Number) pushConnections).intValue());
        }
    }

    /** A JSON boolean (or absent); "true", 1 and the like are refused rather than guessed at. */
    @Target(ElementType.FIELD)
    @Retention(RetentionPolicy.RUNTIME)
    @Constraint(validatedBy = TrueOrFalse.Check.class)
    @interface TrueOrFalse {
        String message() default "must be true or false";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};

        final class Check implements ConstraintValidator<TrueOrFalse, Object> {
            @Override
            public boolean isValid(Object value, ConstraintValidatorContext context) {
                return value == null || value instanceof Boolean;
            }
        }
    }

    /** A JSON integer from min to max (or absent); a string, a fraction or 2.0 is refused rather than guessed at. */
    @Target(ElementType.FIELD)
    @Retention(RetentionPolicy.RUNTIME)
    @Constraint(validatedBy = WholeNumber.Check.class)
    @interface WholeNumber {
        String message() default "must be a whole number from {min} to {max}";

        long min();

        long max();

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};

        final class Check implements ConstraintValidator<WholeNumber, Object> {
            private long min;
            private long max;

            @Override
            public void initialize(WholeNumber bounds) {
                min = bounds.min();
                max = bounds.max();
            }

            @Override
            public boolean isValid(Object value, ConstraintValidatorContext context) {
                if (value == null) {
                    return true;
                }
                // Jackson reads a JSON integer into Integer, Long or BigInteger, anything else into another type
                if (!(value instanceof Integer || value instanceof Long || value instanceof BigInteger)) {
                    return false;
                }
                BigInteger n = value instanceof BigInteger b ? b : BigInteger.valueOf(((Number) value).longValue());
                return n.compareTo(BigInteger.valueOf(min)) >= 0 && n.compareTo(BigInteger.valueOf(max)) <= 0;
            }
        }
    }

    @PostMapping
    @Operation(summary = "Migrate a region to another node; answers 202 with the job (one active job per region)")
    ResponseEntity<MigrationView> create(@Valid @RequestBody CreateMigrationRequest request,
            @AuthenticationPrincipal TokenPrincipal caller) {
        MigrationOptions options = request.options() == null ? MigrationOptions.DEFAULTS : request.options().resolve();
        MigrationView job = migrations.create(UUID.fromString(request.regionId()), request.destinationNode(), options,
                caller.name());
        return accepted(job);
    }

    @GetMapping
    @Operation(summary = "Migration jobs, newest first, optionally of one phase or one region")
    PageResponse<MigrationView> list(@RequestParam(required = false) MigrationPhase phase,
            @RequestParam(required = false) UUID regionId,
            @RequestParam(defaultValue = "0") @Min(0) int page,
            @RequestParam(defaultValue = "25") @Min(1) @Max(500) int size) {
        return migrations.list(phase, regionId, page, size);
    }

    @GetMapping("/{id}")
    @Operation(summary = "One job with its live statistics (kept after it ends)")
    MigrationView get(@PathVariable UUID id) {
        return migrations.get(id);
    }

    @PostMapping("/{id}/start-postcopy")
    @Operation(summary = "Switch over now (PRECOPY only, else 409 migration-wrong-phase)")
    ResponseEntity<MigrationView> startPostcopy(@PathVariable UUID id) {
        return accepted(migrations.startPostcopy(id));
    }

    @PostMapping("/{id}/pause")
    @Operation(summary = "Pause the job where it is (PRECOPY, SWITCHOVER or POSTCOPY); the destination's faults wait")
    ResponseEntity<MigrationView> pause(@PathVariable UUID id) {
        return accepted(migrations.pause(id));
    }

    @PostMapping("/{id}/resume")
    @Operation(summary = "Resume a PAUSED job from where it stopped")
    ResponseEntity<MigrationView> resume(@PathVariable UUID id) {
        return accepted(migrations.resume(id));
    }

    @PostMapping("/{id}/cancel")
    @Operation(summary = "Cancel before switchover (the source stays untouched); after it, 409 migration-past-switchover")
    ResponseEntity<MigrationView> cancel(@PathVariable UUID id) {
        return accepted(migrations.cancel(id));
    }

    private static ResponseEntity<MigrationView> accepted(MigrationView job) {
        return ResponseEntity.accepted().location(URI.create("/api/v1/migrations/" + job.id())).body(job);
    }
}
