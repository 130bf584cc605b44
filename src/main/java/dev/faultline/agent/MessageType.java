package dev.faultline.agent;

/** Control protocol message types (native-agent/PROTOCOL.md §1.3). */
public enum MessageType {
    HELLO(0x01),
    PING(0x02),
    SHUTDOWN(0x03);

    private final int code;

    MessageType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
