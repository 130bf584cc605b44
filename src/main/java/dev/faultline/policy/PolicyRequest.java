package dev.faultline.policy;

import static java.lang.annotation.ElementType.TYPE;
import static java.lang.annotation.RetentionPolicy.RUNTIME;

import dev.faultline.label.LabelSelector;
import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.lang.annotation.Target;
import java.time.Duration;
import org.springframework.boot.convert.DurationStyle;

/**
 * A snapshot policy as clients send it (POST, PUT, and PATCH after merging). Optional fields
 * default to: {@code fullEvery} 1 (every snapshot full), no retention rule (keep everything),
 * not paused, quiesce not required.
 *
 * @param selector label selector of the regions to snapshot ({@link LabelSelector}); empty
 *     selects every region
 * @param schedule cron: 5 fields, 6 fields (second first) or a macro such as {@code @daily}
 * @param timeZone IANA time zone the schedule and the period rules of retention are read in
 * @param fullEvery every Nth snapshot of a region is FULL, the others INCREMENTAL on the
 *     previous one, so no chain is longer than N
 */
@PolicyRequest.Semantics
record PolicyRequest(
        @NotNull @Pattern(regexp = "[a-z0-9][a-z0-9._-]{0,63}",
                message = "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
        String name,
        @NotNull @Size(max = 1024) String selector,
        @NotNull @Size(max = 128) String schedule,
        @NotNull @Size(max = 64) String timeZone,
        @Min(1) @Max(1000) Integer fullEvery,
        @Valid RetentionSpec retention,
        Boolean paused,
        Boolean requireQuiesce) {

    static final int MAX_COUNT = 100_000;

    /** Absent fields take their defaults here: Jackson refuses to read an absent number into a primitive. */
    PolicyRequest {
        fullEvery = fullEvery == null ? 1 : fullEvery;
        retention = retention == null ? RetentionSpec.of(RetentionRules.KEEP_EVERYTHING) : retention;
        paused = paused != null && paused;
        requireQuiesce = requireQuiesce != null && requireQuiesce;
    }

    static PolicyRequest of(PolicyView view) {
        return new PolicyRequest(view.name(), view.selector(), view.schedule(), view.timeZone(), view.fullEvery(),
                view.retention(), view.paused(), view.requireQuiesce());
    }

    /**
     * Retention as clients write it; see {@link RetentionRules}.
     *
     * @param maxAge ISO-8601 ({@code P30D}, {@code PT12H}) or short ({@code 30d}, {@code 12h}); null: no limit
     */
    record RetentionSpec(
            @Min(0) @Max(MAX_COUNT) Integer keepLast,
            @Min(0) @Max(MAX_COUNT) Integer hourly,
            @Min(0) @Max(MAX_COUNT) Integer daily,
            @Min(0) @Max(MAX_COUNT) Integer weekly,
            @Min(0) @Max(MAX_COUNT) Integer monthly,
            @Size(max = 32) String maxAge,
            @Min(0) @Max(MAX_COUNT) Integer keepVerified) {

        /** An absent count is 0: the rule is off. */
        RetentionSpec {
            keepLast = keepLast == null ? 0 : keepLast;
            hourly = hourly == null ? 0 : hourly;
            daily = daily == null ? 0 : daily;
            weekly = weekly == null ? 0 : weekly;
            monthly = monthly == null ? 0 : monthly;
            keepVerified = keepVerified == null ? 0 : keepVerified;
        }

        static RetentionSpec of(RetentionRules rules) {
            return new RetentionSpec(rules.keepLast(), rules.hourly(), rules.daily(), rules.weekly(), rules.monthly(),
                    rules.maxAge() == null ? null : formatMaxAge(rules.maxAge()), rules.keepVerified());
        }

        RetentionRules toRules() {
            return new RetentionRules(keepLast, hourly, daily, weekly, monthly,
                    maxAge == null ? null : parseMaxAge(maxAge).toSeconds(), keepVerified);
        }
    }

    static Duration parseMaxAge(String text) {
        Duration age;
        try {
            age = DurationStyle.detectAndParse(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("must be a duration such as P30D, PT12H, 30d or 12h");
        }
        if (age.toSeconds() <= 0) {
            throw new IllegalArgumentException("must be at least one second");
        }
        return age;
    }

    /** Whole days as {@code P30D}, anything else as {@link Duration#toString()}: both ISO-8601. */
    static String formatMaxAge(Duration age) {
        return age.toSeconds() % 86_400 == 0 ? "P" + age.toDays() + "D" : age.toString();
    }

    /** The checks that need the parsers: each names its field, e.g. {@code schedule} or {@code retention.maxAge}. */
    @Target(TYPE)
    @java.lang.annotation.Retention(RUNTIME)
    @Constraint(validatedBy = SemanticsValidator.class)
    @interface Semantics {

        String message() default "is invalid";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    static class SemanticsValidator implements ConstraintValidator<Semantics, PolicyRequest> {

        @Override
        public boolean isValid(PolicyRequest request, ConstraintValidatorContext context) {
            if (request == null) {
                return true;
            }
            context.disableDefaultConstraintViolation();
            String selector = request.selector();
            String schedule = request.schedule();
            String zone = request.timeZone();
            String maxAge = request.retention().maxAge();
            boolean valid = report(context, selector == null ? null : problemOf(() -> LabelSelector.parse(selector)),
                    "selector");
            valid &= report(context, schedule == null ? null : problemOf(() -> Schedule.parseCron(schedule)), "schedule");
            valid &= report(context, zone == null ? null : problemOf(() -> Schedule.parseZone(zone)), "timeZone");
            valid &= report(context, maxAge == null ? null : problemOf(() -> parseMaxAge(maxAge)), "retention", "maxAge");
            return valid;
        }

        /** Why the parser refuses the text, or null when it accepts it. */
        private static String problemOf(Runnable parse) {
            try {
                parse.run();
                return null;
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        }

        private static boolean report(ConstraintValidatorContext context, String problem, String... path) {
            if (problem == null) {
                return true;
            }
            // The message comes from parsers echoing client input: escape it so it is not read as a template.
            var builder = context.buildConstraintViolationWithTemplate(problem.replaceAll("([\\\\{}$])", "\\\\$1"));
            var node = builder.addPropertyNode(path[0]);
            for (int i = 1; i < path.length; i++) {
                node = node.addPropertyNode(path[i]);
            }
            node.addConstraintViolation();
            return false;
        }
    }
}
