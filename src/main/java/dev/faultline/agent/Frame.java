package dev.faultline.agent;

import java.nio.ByteBuffer;

/**
 * One control-protocol frame (native-agent/PROTOCOL.md §1.1): a 24-byte big-endian header and
 * a JSON payload. Decoding validates everything the header can get wrong, so a corrupt stream
 * is detected at its first bad frame rather than misread.
 */
record Frame(int type, int flags, long requestId, byte[] payload) {

    static final int MAGIC = 0x464C4354; // "FLCT"
    static final int VERSION = 1;
    static final int HEADER_SIZE = 24;
    static final int MAX_PAYLOAD = 1 << 20;
    static final int FLAG_REPLY = 0x1;
    static final int FLAG_ERROR = 0x2;
    private static final int KNOWN_FLAGS = FLAG_REPLY | FLAG_ERROR;

    boolean isReply() {
        return (flags & FLAG_REPLY) != 0;
    }

    boolean isError() {
        return (flags & FLAG_ERROR) != 0;
    }

    ByteBuffer encode() {
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes exceeds " + MAX_PAYLOAD);
        }
        ByteBuffer buf = ByteBuffer.allocate(HEADER_SIZE + payload.length);
        buf.putInt(MAGIC).put((byte) VERSION).put((byte) type).putShort((short) flags)
                .putLong(requestId).putInt(payload.length).putInt(0).put(payload);
        return buf.flip();
    }

    /** Header fields of a frame whose payload is still to be read. */
    record Header(int type, int flags, long requestId, int length) {}

    /** Reads and checks a header from exactly {@link #HEADER_SIZE} bytes. */
    static Header decodeHeader(ByteBuffer buf) throws ProtocolException {
        int magic = buf.getInt();
        if (magic != MAGIC) {
            throw new ProtocolException(String.format("bad magic 0x%08x", magic));
        }
        int version = Byte.toUnsignedInt(buf.get());
        if (version != VERSION) {
            throw new ProtocolException("unsupported protocol version " + version);
        }
        int type = Byte.toUnsignedInt(buf.get());
        int flags = Short.toUnsignedInt(buf.getShort());
        long requestId = buf.getLong();
        long length = Integer.toUnsignedLong(buf.getInt());
        int reserved = buf.getInt();
        if ((flags & ~KNOWN_FLAGS) != 0 || ((flags & FLAG_ERROR) != 0 && (flags & FLAG_REPLY) == 0)) {
            throw new ProtocolException(String.format("invalid flags 0x%04x", flags));
        }
        if (reserved != 0) {
            throw new ProtocolException("reserved header field is not zero");
        }
        if (length > MAX_PAYLOAD) {
            throw new ProtocolException("frame of " + length + " bytes exceeds " + MAX_PAYLOAD);
        }
        return new Header(type, flags, requestId, (int) length);
    }

    /** The byte stream from the agent cannot be trusted any more. */
    static final class ProtocolException extends Exception {
        ProtocolException(String message) {
            super(message);
        }
    }
}
