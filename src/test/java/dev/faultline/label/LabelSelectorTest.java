package dev.faultline.label;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class LabelSelectorTest {

    private static final Map<String, String> DB_PROD = Map.of("app", "db", "tier", "prod", "example.com/owner", "ops");

    static Stream<Arguments> selectorsAndWhetherTheyMatchAProductionDatabase() {
        return Stream.of(
                Arguments.of("app=db", true),
                Arguments.of("app==db", true),
                Arguments.of("app = db", true),
                Arguments.of("app=web", false),
                Arguments.of("app!=web", true),
                Arguments.of("app!=db", false),
                Arguments.of("zone!=eu", true), // an absent label is "not eu"
                Arguments.of("app", true),
                Arguments.of("zone", false),
                Arguments.of("!zone", true),
                Arguments.of("!app", false),
                Arguments.of("tier in (prod, staging)", true),
                Arguments.of("tier in (staging)", false),
                Arguments.of("zone in (eu)", false),
                Arguments.of("tier notin (staging,dev)", true),
                Arguments.of("tier notin (prod)", false),
                Arguments.of("zone notin (eu)", true),
                Arguments.of("example.com/owner=ops", true),
                Arguments.of("app=db,tier in (prod),!zone", true),
                Arguments.of("app=db, tier=staging", false),
                Arguments.of("", true),
                Arguments.of("   ", true));
    }

    @ParameterizedTest(name = "''{0}'' matches app=db,tier=prod: {1}")
    @MethodSource("selectorsAndWhetherTheyMatchAProductionDatabase")
    void aSelectorMatchesWhenEveryRequirementHolds(String text, boolean expected) {
        assertThat(LabelSelector.parse(text).matches(DB_PROD)).isEqualTo(expected);
    }

    static Stream<Arguments> textAndCanonicalForm() {
        return Stream.of(
                Arguments.of("app = db", "app=db"),
                Arguments.of("app==db", "app=db"),
                Arguments.of(" tier  in(a ,b ) , ! zone,k", "tier in (a,b),!zone,k"),
                Arguments.of("k notin (x)", "k notin (x)"),
                Arguments.of("k!=", "k!="));
    }

    @ParameterizedTest(name = "''{0}'' is written as ''{1}''")
    @MethodSource("textAndCanonicalForm")
    void theCanonicalFormParsesBackToTheSameSelector(String text, String canonical) {
        LabelSelector selector = LabelSelector.parse(text);

        assertThat(selector).hasToString(canonical);
        assertThat(LabelSelector.parse(canonical)).isEqualTo(selector);
    }

    static Stream<Arguments> invalidSelectorsWithTheirPositionAndProblem() {
        return Stream.of(
                Arguments.of("app=db,", 7, "expected a label key but the selector ends"),
                Arguments.of(",app", 0, "expected a label key but found ',app'"),
                Arguments.of("app=db tier=x", 7, "expected ',' between requirements but found 'tier=x'"),
                Arguments.of("app~db", 3, "expected '=', '!=', 'in', 'notin', ',' or the end after key 'app'"),
                Arguments.of("tier in prod", 8, "expected '(' after 'in' but found 'prod'"),
                Arguments.of("tier in (a,b", 12, "expected ',' or ')' in the values of 'in' but the selector ends"),
                Arguments.of("tier in ()", 9, "'in' needs at least one value"),
                Arguments.of("tier notin ( )", 13, "'notin' needs at least one value"),
                Arguments.of("-app=x", 0, "key '-app' must be at most 63 letters"),
                Arguments.of("a".repeat(64), 0, "key '" + "a".repeat(64) + "' must be at most 63"),
                Arguments.of("Example.com/owner=x", 0, "key prefix 'Example.com' must be a lower-case DNS subdomain"),
                Arguments.of("app=db-", 4, "value 'db-' must be empty or at most 63"),
                Arguments.of("app=é", 4, "value 'é' must be empty"),
                Arguments.of("!=x", 1, "expected a label key but found '=x'"));
    }

    @ParameterizedTest(name = "''{0}'' fails at {1}: {2}")
    @MethodSource("invalidSelectorsWithTheirPositionAndProblem")
    void anInvalidSelectorIsRejectedWithThePositionAndTheProblem(String text, int position, String problem) {
        assertThatThrownBy(() -> LabelSelector.parse(text))
                .isInstanceOfSatisfying(LabelSelectorException.class, e -> assertThat(e.position()).isEqualTo(position))
                .hasMessageStartingWith("at position " + position + ": ")
                .hasMessageContaining(problem);
    }

    @Test
    void anOverlongSelectorIsRejectedBeforeParsing() {
        assertThatThrownBy(() -> LabelSelector.parse("a,".repeat(LabelSelector.MAX_LENGTH)))
                .isInstanceOf(LabelSelectorException.class)
                .hasMessageContaining("longer than 4096");
    }

    @Test
    void requirementsAreExposedForCallersThatTranslateThemIntoQueries() {
        LabelSelector selector = LabelSelector.parse("app=db,tier in (a,b)");

        assertThat(selector.requirements()).containsExactly(
                new LabelSelector.Requirement("app", LabelSelector.Operator.EQUALS, java.util.List.of("db")),
                new LabelSelector.Requirement("tier", LabelSelector.Operator.IN, java.util.List.of("a", "b")));
    }
}
