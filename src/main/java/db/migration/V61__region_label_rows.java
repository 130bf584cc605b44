package db.migration;

import dev.faultline.label.LabelsJson;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.api.migration.BaseJavaMigration;
import org.flywaydb.core.api.migration.Context;

/**
 * Fills region_label (V60) from the JSON labels of the regions recorded before it. In Java
 * because neither H2 nor PostgreSQL parse that JSON with the same SQL.
 */
public class V61__region_label_rows extends BaseJavaMigration {

    @Override
    public void migrate(Context context) throws SQLException {
        Connection c = context.getConnection();
        LabelsJson json = new LabelsJson();
        try (Statement select = c.createStatement();
                ResultSet rows = select.executeQuery("SELECT id, labels FROM region");
                PreparedStatement insert = c.prepareStatement(
                        "INSERT INTO region_label (region_id, label_key, label_value) VALUES (?, ?, ?)")) {
            while (rows.next()) {
                UUID id = rows.getObject(1, UUID.class);
                Map<String, String> labels = json.convertToEntityAttribute(rows.getString(2));
                for (Map.Entry<String, String> label : labels == null ? Map.<String, String>of().entrySet()
                        : labels.entrySet()) {
                    insert.setObject(1, id);
                    insert.setString(2, label.getKey());
                    insert.setString(3, label.getValue());
                    insert.addBatch();
                }
            }
            insert.executeBatch();
        }
    }
}
