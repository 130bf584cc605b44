package dev.faultline.label;

import java.util.Map;

/** Placeholder: replaced by the shared selector from the policies branch at merge. */
public interface LabelSelector {

    boolean matches(Map<String, String> labels);

    static LabelSelector parse(String expression) {
        if (expression == null || expression.isBlank()) {
            return labels -> true;
        }
        String[] kv = expression.split("=", 2);
        return labels -> kv[1].equals(labels.get(kv[0]));
    }
}
