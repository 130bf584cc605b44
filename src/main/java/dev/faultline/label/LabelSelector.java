package dev.faultline.label;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A Kubernetes-style label selector: comma-separated requirements that must all hold.
 *
 * <pre>
 *   app=db            the label app is db          (also app==db)
 *   app!=db           app is not db, or there is no app label
 *   app               there is an app label
 *   !app              there is no app label
 *   tier in (a,b)     tier is a or b
 *   tier notin (a,b)  tier is neither a nor b, or there is no tier label
 * </pre>
 *
 * Keys and values follow Kubernetes' rules: a key is an optional DNS-subdomain prefix and
 * {@code /}, then a name of at most 63 letters, digits, {@code -}, {@code _} or {@code .}
 * starting and ending with a letter or digit; a value is empty or of the same form as a name.
 * The empty selector matches every label set. Snapshot policies and the regions API use the
 * same syntax, so there is one parser.
 */
public final class LabelSelector {

    /** Longest selector text accepted: a bound on input, far above any useful selector. */
    public static final int MAX_LENGTH = 4096;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");
    private static final Pattern DNS_SUBDOMAIN = Pattern.compile(
            "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private final List<Requirement> requirements;

    private LabelSelector(List<Requirement> requirements) {
        this.requirements = List.copyOf(requirements);
    }

    /** Parses selector text; throws with the position of the first error. */
    public static LabelSelector parse(String text) {
        Objects.requireNonNull(text, "text");
        if (text.length() > MAX_LENGTH) {
            throw new LabelSelectorException("is longer than " + MAX_LENGTH + " characters", MAX_LENGTH);
        }
        return new LabelSelector(new Parser(text).parse());
    }

    public List<Requirement> requirements() {
        return requirements;
    }

    public boolean matches(Map<String, String> labels) {
        Map<String, String> present = labels == null ? Map.of() : labels;
        return requirements.stream().allMatch(r -> r.matches(present));
    }

    /** The canonical text: requirements in the order written, separated by commas, without spaces but around in/notin. */
    @Override
    public String toString() {
        return requirements.stream().map(Requirement::toString).collect(Collectors.joining(","));
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof LabelSelector s && s.requirements.equals(requirements);
    }

    @Override
    public int hashCode() {
        return requirements.hashCode();
    }

    public enum Operator {
        EQUALS, NOT_EQUALS, IN, NOT_IN, EXISTS, DOES_NOT_EXIST
    }

    /** One condition on one label key. {@code values} is empty for EXISTS and DOES_NOT_EXIST. */
    public record Requirement(String key, Operator operator, List<String> values) {

        public Requirement {
            values = List.copyOf(values);
        }

        boolean matches(Map<String, String> labels) {
            String value = labels.get(key);
            return switch (operator) {
                case EQUALS -> values.get(0).equals(value);
                case NOT_EQUALS -> !values.get(0).equals(value);
                case IN -> value != null && values.contains(value);
                case NOT_IN -> value == null || !values.contains(value);
                case EXISTS -> value != null;
                case DOES_NOT_EXIST -> value == null;
            };
        }

        @Override
        public String toString() {
            return switch (operator) {
                case EQUALS -> key + "=" + values.get(0);
                case NOT_EQUALS -> key + "!=" + values.get(0);
                case IN -> key + " in (" + String.join(",", values) + ")";
                case NOT_IN -> key + " notin (" + String.join(",", values) + ")";
                case EXISTS -> key;
                case DOES_NOT_EXIST -> "!" + key;
            };
        }
    }

    /** Recursive descent over the text; positions in errors are 0-based character offsets. */
    private static final class Parser {

        private final String text;
        private int pos;

        Parser(String text) {
            this.text = text;
        }

        List<Requirement> parse() {
            List<Requirement> result = new ArrayList<>();
            skipSpaces();
            if (atEnd()) {
                return result;
            }
            while (true) {
                result.add(requirement());
                skipSpaces();
                if (atEnd()) {
                    return result;
                }
                expect(',', "',' between requirements");
            }
        }

        private Requirement requirement() {
            skipSpaces();
            if (peek() == '!') {
                pos++;
                skipSpaces();
                return new Requirement(key(), Operator.DOES_NOT_EXIST, List.of());
            }
            String key = key();
            skipSpaces();
            if (atEnd() || peek() == ',') {
                return new Requirement(key, Operator.EXISTS, List.of());
            }
            if (peek() == '=') {
                pos++;
                if (!atEnd() && peek() == '=') {
                    pos++;
                }
                return new Requirement(key, Operator.EQUALS, List.of(value()));
            }
            if (text.startsWith("!=", pos)) {
                pos += 2;
                return new Requirement(key, Operator.NOT_EQUALS, List.of(value()));
            }
            int wordAt = pos;
            String word = word();
            if (word.equals("in") || word.equals("notin")) {
                return new Requirement(key, word.equals("in") ? Operator.IN : Operator.NOT_IN, valueSet(word));
            }
            throw new LabelSelectorException("expected '=', '!=', 'in', 'notin', ',' or the end after key '" + key
                    + "' but found '" + excerpt(wordAt) + "'", wordAt);
        }

        private String key() {
            int start = pos;
            String key = word();
            if (key.isEmpty()) {
                throw new LabelSelectorException(atEnd() ? "expected a label key but the selector ends"
                        : "expected a label key but found '" + excerpt(start) + "'", start);
            }
            int slash = key.indexOf('/');
            String name = slash < 0 ? key : key.substring(slash + 1);
            if (slash >= 0) {
                String prefix = key.substring(0, slash);
                if (prefix.length() > 253 || !DNS_SUBDOMAIN.matcher(prefix).matches()) {
                    throw new LabelSelectorException("key prefix '" + prefix
                            + "' must be a lower-case DNS subdomain of at most 253 characters", start);
                }
            }
            if (!NAME.matcher(name).matches()) {
                throw new LabelSelectorException("key '" + key + "' must be at most 63 letters, digits, '-', '_' or '.',"
                        + " starting and ending with a letter or digit (optionally after a 'prefix/')", start);
            }
            return key;
        }

        private String value() {
            skipSpaces();
            int start = pos;
            String value = word();
            if (!value.isEmpty() && !NAME.matcher(value).matches()) {
                throw new LabelSelectorException("value '" + value + "' must be empty or at most 63 letters, digits,"
                        + " '-', '_' or '.', starting and ending with a letter or digit", start);
            }
            return value;
        }

        private List<String> valueSet(String operator) {
            skipSpaces();
            expect('(', "'(' after '" + operator + "'");
            List<String> values = new ArrayList<>();
            while (true) {
                skipSpaces();
                int at = pos;
                String value = value();
                skipSpaces();
                if (value.isEmpty() && (atEnd() || peek() == ')') && values.isEmpty()) {
                    throw new LabelSelectorException("'" + operator + "' needs at least one value", at);
                }
                values.add(value);
                if (!atEnd() && peek() == ')') {
                    pos++;
                    return values;
                }
                expect(',', "',' or ')' in the values of '" + operator + "'");
            }
        }

        /** Characters that can make up a key or value; everything else ends the word. */
        private String word() {
            int start = pos;
            while (!atEnd()) {
                char c = peek();
                if (!(Character.isLetterOrDigit(c) || c == '-' || c == '_' || c == '.' || c == '/')) {
                    break;
                }
                pos++;
            }
            return text.substring(start, pos);
        }

        private void expect(char c, String what) {
            if (atEnd()) {
                throw new LabelSelectorException("expected " + what + " but the selector ends", pos);
            }
            if (peek() != c) {
                throw new LabelSelectorException("expected " + what + " but found '" + excerpt(pos) + "'", pos);
            }
            pos++;
        }

        private String excerpt(int at) {
            return text.substring(at, Math.min(text.length(), at + 10));
        }

        private void skipSpaces() {
            while (!atEnd() && Character.isWhitespace(peek())) {
                pos++;
            }
        }

        /** The current character, or NUL at the end (never part of a selector token). */
        private char peek() {
            return atEnd() ? '\0' : text.charAt(pos);
        }

        private boolean atEnd() {
            return pos >= text.length();
        }
    }
}
