package dev.faultline.agent;

/** Control protocol message types (native-agent/PROTOCOL.md §1.3; migrations: §1.9; snapshots: §1.10). */
public enum MessageType {
    HELLO(0x01),
    PING(0x02),
    SHUTDOWN(0x03),
    REGION_LIST(0x10),
    REGION_GET(0x11),
    REGION_DETACH(0x12),
    RESTORE_CREATE(0x18),
    RESTORE_GET(0x19),
    RESTORE_LIST(0x1A),
    RESTORE_DELETE(0x1B),
    MIGRATION_IN(0x30),
    MIGRATION_OUT(0x31),
    MIGRATION_GET(0x32),
    MIGRATION_LIST(0x33),
    MIGRATION_SWITCHOVER(0x34),
    MIGRATION_PAUSE(0x35),
    MIGRATION_RESUME(0x36),
    MIGRATION_CANCEL(0x37),
    MIGRATION_DELETE(0x38),
    SNAPSHOT_TAKE(0x40),
    SNAPSHOT_VERIFY(0x41),
    SNAPSHOT_DELETE(0x42),
    SNAPSHOT_CONSOLIDATE(0x43),
    SNAPSHOT_RESTORE(0x44),
    SUBSCRIBE(0x50),
    /** A notification from the agent (PROTOCOL.md §1.11), never sent by the service. */
    EVENT(0x51);

    private final int code;

    MessageType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
