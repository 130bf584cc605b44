package dev.faultline.label;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * Label keys and values, with Kubernetes' syntax so operators' habits carry over: keys are an
 * optional DNS-subdomain prefix and a name of up to 63 characters; values up to 63 characters.
 */
public final class Labels {

    private static final Pattern NAME = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)");
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
    private static final Pattern VALUE = Pattern.compile("(" + NAME.pattern() + ")?");
    public static final int MAX_LABELS = 64;

    private Labels() {
    }

    /** Null when valid, else what is wrong, for a field error. */
    public static String problem(Map<String, String> labels) {
        if (labels.size() > MAX_LABELS) {
            return "at most " + MAX_LABELS + " labels";
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!validKey(e.getKey())) {
                return "'" + e.getKey() + "' is not a valid label key";
            }
            if (e.getValue() != null && !VALUE.matcher(e.getValue()).matches()) {
                return "'" + e.getValue() + "' is not a valid value for label '" + e.getKey() + "'";
            }
        }
        return null;
    }

    static boolean validKey(String key) {
        int slash = key.indexOf('/');
        if (slash < 0) {
            return NAME.matcher(key).matches();
        }
        return PREFIX.matcher(key.substring(0, slash)).matches() && NAME.matcher(key.substring(slash + 1)).matches();
    }
}
