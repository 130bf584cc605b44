package dev.faultline.label;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * Stores a label map as a JSON object in a text column (portable across H2 and PostgreSQL),
 * keys sorted so equal maps store equal text. Null stays null.
 */
@Converter
public class LabelsJson implements AttributeConverter<Map<String, String>, String> {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final TypeReference<TreeMap<String, String>> TYPE = new TypeReference<>() {
    };

    @Override
    public String convertToDatabaseColumn(Map<String, String> labels) {
        return labels == null ? null : JSON.writeValueAsString(new TreeMap<>(labels));
    }

    @Override
    public Map<String, String> convertToEntityAttribute(String column) {
        return column == null ? null : JSON.readValue(column, TYPE);
    }
}
