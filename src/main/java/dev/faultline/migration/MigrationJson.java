package dev.faultline.migration;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** JSON text columns of the migration table (portable across H2 and PostgreSQL). */
final class MigrationJson {

    /**
     * Only this service writes these columns. A figure added to the statistics later is absent
     * from rows written before: it reads as 0 (e.g. nothing compressed), not as an unreadable job.
     */
    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).build();

    private MigrationJson() {
    }

    /** One entry of a job's timeline: the phase entered and when. */
    record Step(MigrationPhase phase, Instant at) {
    }

    @Converter
    static class Timeline implements AttributeConverter<List<Step>, String> {

        private static final TypeReference<ArrayList<Step>> TYPE = new TypeReference<>() {
        };

        @Override
        public String convertToDatabaseColumn(List<Step> steps) {
            return JSON.writeValueAsString(steps == null ? List.of() : steps);
        }

        @Override
        public List<Step> convertToEntityAttribute(String column) {
            return column == null ? new ArrayList<>() : JSON.readValue(column, TYPE);
        }
    }

    @Converter
    static class Stats implements AttributeConverter<MigrationStats, String> {

        @Override
        public String convertToDatabaseColumn(MigrationStats stats) {
            return stats == null ? null : JSON.writeValueAsString(stats);
        }

        @Override
        public MigrationStats convertToEntityAttribute(String column) {
            return column == null ? null : JSON.readValue(column, MigrationStats.class);
        }
    }
}
