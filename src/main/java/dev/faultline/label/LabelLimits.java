package dev.faultline.label;

/**
 * The one set of limits on labels, shared by the API (request validation), the database (the
 * width of every labels column, see V50__label_columns.sql) and what the service takes over from
 * the agent. They are Kubernetes' limits, so operators' habits and tooling carry over: at most
 * 64 labels; a key is an optional DNS-subdomain prefix of at most 253 characters and '/', then
 * a name of at most 63; a value is at most 63 characters.
 *
 * <p>The agent applies the same rules to what workloads register (native-agent/src/engine/hsk.c,
 * {@code hsk_label_ok}); labels an agent of another version reports that break these limits are
 * left out by the region sync with an event, never stored half-way and never failing the sync.
 */
public final class LabelLimits {

    public static final int MAX_LABELS = 64;
    public static final int MAX_PREFIX_LENGTH = 253;
    public static final int MAX_NAME_LENGTH = 63;
    public static final int MAX_KEY_LENGTH = MAX_PREFIX_LENGTH + 1 + MAX_NAME_LENGTH;
    public static final int MAX_VALUE_LENGTH = 63;
    /**
     * The longest stored form ({@link LabelsJson}: {"key":"value",...}, keys and values need no
     * escaping since their characters are restricted): the most and longest labels allowed.
     */
    public static final int MAX_STORED_LENGTH = 2 + MAX_LABELS * (MAX_KEY_LENGTH + MAX_VALUE_LENGTH + 6) - 1;
    /** The width of every labels column in the database; at least {@link #MAX_STORED_LENGTH}. */
    public static final int COLUMN_LENGTH = 32768;

    private LabelLimits() {
    }
}
