package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameTest {

    @Test
    void anEncodedFrameDecodesToTheSameHeader() throws Exception {
        byte[] payload = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer wire = new Frame(MessageType.PING.code(), Frame.FLAG_REPLY, 0x0102030405060708L, payload).encode();

        assertThat(wire.remaining()).isEqualTo(Frame.HEADER_SIZE + payload.length);
        assertThat(wire.getInt(0)).as("magic is big-endian FLCT").isEqualTo(0x464C4354);
        Frame.Header header = Frame.decodeHeader(wire.duplicate());
        assertThat(header).isEqualTo(new Frame.Header(MessageType.PING.code(), Frame.FLAG_REPLY, 0x0102030405060708L, payload.length));
    }

    @Test
    void aHeaderWithBadMagicIsRejected() {
        ByteBuffer wire = header(0x12345678, 1, 0, 0, 0);
        assertThatThrownBy(() -> Frame.decodeHeader(wire)).hasMessageContaining("bad magic 0x12345678");
    }

    @Test
    void aHeaderOfAnotherVersionIsRejected() {
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 2, 0, 0, 0))).hasMessageContaining("version 2");
    }

    @Test
    void aLengthOverTheMaximumIsRejectedBeforeAnyPayloadIsRead() {
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 1, 0, Frame.MAX_PAYLOAD + 1, 0)))
                .hasMessageContaining("exceeds");
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 1, 0, -1, 0)))
                .as("lengths are unsigned").hasMessageContaining("4294967295");
    }

    @Test
    void unknownFlagsErrorWithoutReplyAndNonZeroReservedAreRejected() {
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 1, 0x4, 0, 0))).hasMessageContaining("flags");
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 1, Frame.FLAG_ERROR, 0, 0))).hasMessageContaining("flags");
        assertThatThrownBy(() -> Frame.decodeHeader(header(Frame.MAGIC, 1, 0, 0, 7))).hasMessageContaining("reserved");
    }

    @Test
    void aPayloadOverTheMaximumCannotBeEncoded() {
        assertThatThrownBy(() -> new Frame(1, 0, 1, new byte[Frame.MAX_PAYLOAD + 1]).encode())
                .isInstanceOf(IllegalArgumentException.class);
    }

    static ByteBuffer header(int magic, int version, int flags, int length, int reserved) {
        return ByteBuffer.allocate(Frame.HEADER_SIZE).putInt(magic).put((byte) version).put((byte) MessageType.PING.code())
                .putShort((short) flags).putLong(1).putInt(length).putInt(reserved).flip();
    }
}
