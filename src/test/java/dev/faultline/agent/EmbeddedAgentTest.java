package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class EmbeddedAgentTest extends ServiceTest {

    @Test
    void theServiceStartsTheBundledAgentAndReadsItsUserfaultfdFeatures() {
        AgentStatus status = agent.status();

        assertThat(status.mode()).isEqualTo(AgentMode.EMBEDDED);
        assertThat(status.pid()).isNotNull();
        assertThat(ProcessHandle.of(status.pid())).as("agent process is alive").get().matches(ProcessHandle::isAlive);
        assertThat(ProcessHandle.of(status.pid()).flatMap(p -> p.parent()).map(ProcessHandle::pid))
                .as("the agent is the service's child").contains(ProcessHandle.current().pid());
        assertThat(status.userfaultfd().available()).isTrue();
        assertThat(status.userfaultfd().features()).contains("event_fork", "event_remove");
        assertThat(status.version()).isEqualTo("0.1.0");
        assertThat(agent.call(MessageType.PING, null).path("uptime_ms").isNumber()).isTrue();
    }

    @Test
    void anAgentKilledWithSigkillIsReadyAgainWithinTwoSeconds() throws Exception {
        AgentStatus before = agent.status();
        ProcessHandle victim = ProcessHandle.of(before.pid()).orElseThrow();

        long killedAt = System.nanoTime();
        assertThat(victim.destroyForcibly()).isTrue();
        AgentStatus after = agent.awaitStatus(
                s -> s.state() == AgentState.READY && s.pid() != null && s.pid() != victim.pid(), Duration.ofSeconds(2));
        Duration took = Duration.ofNanos(System.nanoTime() - killedAt);

        assertThat(after.state()).as("state %s after %s (last error: %s)", after.state(), took, after.lastError())
                .isEqualTo(AgentState.READY);
        assertThat(after.pid()).isNotEqualTo(victim.pid());
        assertThat(after.restarts()).isGreaterThan(before.restarts());
        assertThat(agent.call(MessageType.PING, null).has("uptime_ms")).isTrue();

        JsonNode host = admin().get("/api/v1/host").json();
        assertThat(host.at("/agent/state").asString()).isEqualTo("READY");
        assertThat(host.at("/agent/pid").asLong()).isEqualTo(after.pid());
    }

    @Test
    void aFrameWithBadMagicGetsAnErrorAndTheAgentKeepsServingOthers() throws IOException {
        try (SocketChannel rogue = connect()) {
            write(rogue, "GET / HTTP/1.1\r\nHost: agent\r\n\r\n".getBytes(StandardCharsets.US_ASCII));

            JsonNode error = readErrorThenEof(rogue);
            assertThat(error.path("code").asString()).isEqualTo("BAD_MAGIC");
        }
        assertThat(agent.call(MessageType.PING, null).has("uptime_ms")).as("the service's own connection still works").isTrue();
    }

    @Test
    void anOversizedFrameGetsAnErrorAndTheAgentKeepsServingOthers() throws IOException {
        try (SocketChannel rogue = connect()) {
            ByteBuffer header = FrameTest.header(Frame.MAGIC, Frame.VERSION, 0, 0x7fffffff, 0);
            write(rogue, header.array());

            JsonNode error = readErrorThenEof(rogue);
            assertThat(error.path("code").asString()).isEqualTo("FRAME_TOO_LARGE");
        }
        assertThat(agent.call(MessageType.PING, null).has("uptime_ms")).isTrue();
    }

    private SocketChannel connect() throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(Path.of(agent.status().socket())));
    }

    private static void write(SocketChannel channel, byte[] bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    /** Reads one error frame, then expects the agent to close the connection. */
    private static JsonNode readErrorThenEof(SocketChannel channel) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(Frame.HEADER_SIZE);
        readFully(channel, header);
        Frame.Header h;
        try {
            h = Frame.decodeHeader(header.flip());
        } catch (Frame.ProtocolException e) {
            throw new AssertionError("agent answered with an invalid frame: " + e.getMessage());
        }
        assertThat(h.flags()).as("an error reply").isEqualTo(Frame.FLAG_REPLY | Frame.FLAG_ERROR);
        ByteBuffer payload = ByteBuffer.allocate(h.length());
        readFully(channel, payload);
        assertThat(channel.read(ByteBuffer.allocate(1))).as("the agent closes the connection").isEqualTo(-1);
        return tools.jackson.databind.json.JsonMapper.builder().build().readTree(payload.array());
    }

    private static void readFully(SocketChannel channel, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (channel.read(buf) < 0) {
                throw new AssertionError("agent closed the connection without an error frame");
            }
        }
    }
}
