package dev.faultline.agent;

/** Control protocol message types (native-agent/PROTOCOL.md §1.3). */
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
    SNAPSHOT_TAKE(0x30),
    SNAPSHOT_VERIFY(0x31),
    SNAPSHOT_DELETE(0x32),
    SNAPSHOT_CONSOLIDATE(0x33),
    SNAPSHOT_RESTORE(0x34);

    private final int code;

    MessageType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
