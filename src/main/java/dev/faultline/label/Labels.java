package dev.faultline.label;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Label keys and values, with Kubernetes' syntax so operators' habits carry over: keys are an
 * optional DNS-subdomain prefix and a name of up to 63 characters; values up to 63 characters
 * ({@link LabelLimits}).
 */
public final class Labels {

    private static final Pattern NAME = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)");
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
    private static final Pattern VALUE = Pattern.compile("(" + NAME.pattern() + ")?");
    public static final int MAX_LABELS = LabelLimits.MAX_LABELS;

    private Labels() {
    }

    /** Null when valid, else what is wrong, for a field error. A null value is invalid (no label has none). */
    public static String problem(Map<String, String> labels) {
        if (labels.size() > MAX_LABELS) {
            return "at most " + MAX_LABELS + " labels";
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!validKey(e.getKey())) {
                return "'" + excerpt(e.getKey()) + "' is not a valid label key (an optional DNS-subdomain prefix of at"
                        + " most " + LabelLimits.MAX_PREFIX_LENGTH + " characters and '/', then 1-"
                        + LabelLimits.MAX_NAME_LENGTH + " letters, digits, '-', '_' or '.')";
            }
            if (e.getValue() == null) {
                return "label '" + e.getKey() + "' has no value (null); use \"\" for an empty one";
            }
            if (!validValue(e.getValue())) {
                return "'" + excerpt(e.getValue()) + "' is not a valid value for label '" + e.getKey() + "' (at most "
                        + LabelLimits.MAX_VALUE_LENGTH + " letters, digits, '-', '_' or '.')";
            }
        }
        return null;
    }

    /**
     * What the service keeps of labels reported by the agent (workloads name their own): the
     * valid ones, up to {@link LabelLimits#MAX_LABELS} in key order; {@code dropped} names the rest.
     */
    public record Kept(Map<String, String> labels, List<String> dropped) {
    }

    public static Kept keep(Map<String, String> reported) {
        TreeMap<String, String> kept = new TreeMap<>();
        List<String> dropped = new ArrayList<>();
        if (reported == null) {
            return new Kept(kept, dropped);
        }
        for (Map.Entry<String, String> e : new TreeMap<>(reported).entrySet()) {
            if (kept.size() < MAX_LABELS && validKey(e.getKey()) && e.getValue() != null && validValue(e.getValue())) {
                kept.put(e.getKey(), e.getValue());
            } else {
                dropped.add(excerpt(e.getKey()));
            }
        }
        return new Kept(kept, dropped);
    }

    private static String excerpt(String text) {
        return text.length() <= 80 ? text : text.substring(0, 80) + "...";
    }

    static boolean validValue(String value) {
        return value.length() <= LabelLimits.MAX_VALUE_LENGTH && VALUE.matcher(value).matches();
    }

    static boolean validKey(String key) {
        if (key == null || key.length() > LabelLimits.MAX_KEY_LENGTH) {
            return false;
        }
        int slash = key.indexOf('/');
        if (slash < 0) {
            return NAME.matcher(key).matches();
        }
        return PREFIX.matcher(key.substring(0, slash)).matches() && NAME.matcher(key.substring(slash + 1)).matches();
    }
}
