package dev.faultline.agent;

import com.fasterxml.jackson.annotation.JsonInclude;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;

/**
 * JSON as the agent speaks it (PROTOCOL.md §1): snake_case names, unknown fields ignored (the
 * compatibility rules let a newer agent add fields), absent rather than null optional fields.
 * Kept apart from the REST API's mapper, whose names are camelCase.
 */
final class AgentJson {

    static final JsonMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .changeDefaultPropertyInclusion(i -> i.withValueInclusion(JsonInclude.Include.NON_NULL))
            .build();

    private AgentJson() {
    }
}
