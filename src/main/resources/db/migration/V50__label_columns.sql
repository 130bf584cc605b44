-- Labels columns wide enough for the most and longest labels the API accepts (64 labels, keys
-- of 253+1+63 and values of 63 characters, stored as JSON: LabelLimits.MAX_STORED_LENGTH), so a
-- valid request can never fail on the column. SET DATA TYPE is understood by H2 and PostgreSQL.
ALTER TABLE region ALTER COLUMN labels SET DATA TYPE VARCHAR(32768);
ALTER TABLE restore_session ALTER COLUMN labels SET DATA TYPE VARCHAR(32768);
ALTER TABLE snapshot ALTER COLUMN region_labels SET DATA TYPE VARCHAR(32768);
ALTER TABLE snapshot_operation ALTER COLUMN restore_labels SET DATA TYPE VARCHAR(32768);
