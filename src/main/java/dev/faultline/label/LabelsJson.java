package dev.faultline.label;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/** Stores a label map as a JSON object in one column, keys sorted so equal maps store equal text. */
@Converter
public class LabelsJson implements AttributeConverter<Map<String, String>, String> {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final TypeReference<TreeMap<String, String>> TYPE = new TypeReference<>() {
    };

    @Override
    public String convertToDatabaseColumn(Map<String, String> labels) {
        return JSON.writeValueAsString(labels == null ? Map.of() : new TreeMap<>(labels));
    }

    @Override
    public Map<String, String> convertToEntityAttribute(String column) {
        return column == null || column.isBlank() ? new TreeMap<>() : JSON.readValue(column, TYPE);
    }
}
