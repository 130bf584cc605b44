package dev.faultline.agent;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One control connection to an agent. Requests may be sent from any thread; a reader thread
 * matches replies to requests by id, so callers never wait behind each other. When the
 * connection breaks, every outstanding request fails with {@link AgentException#UNAVAILABLE}
 * and the close listener runs once.
 */
final class AgentConnection implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AgentConnection.class);

    private final SocketChannel channel;
    private final JsonMapper json = AgentJson.MAPPER;
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final AtomicLong requestIds = new AtomicLong();
    private final CompletableFuture<Throwable> closed = new CompletableFuture<>();
    private final Object writeLock = new Object();
    /** Receives the agent's event notifications (PROTOCOL.md §1.11), on the reader thread. */
    private volatile Consumer<JsonNode> events = e -> { };
    /** Tests hold the reader to make the agent drop events for a slow subscriber. */
    private final java.util.concurrent.locks.ReentrantLock reading = new java.util.concurrent.locks.ReentrantLock();

    private AgentConnection(SocketChannel channel) {
        this.channel = channel;
    }

    static AgentConnection open(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        AgentConnection connection = new AgentConnection(channel);
        Thread reader = new Thread(connection::readLoop, "agent-reader");
        reader.setDaemon(true);
        reader.start();
        return connection;
    }

    /** Runs {@code listener} once, with the cause, when the connection is gone. */
    void onClose(Consumer<Throwable> listener) {
        closed.thenAccept(listener);
    }

    void onEvent(Consumer<JsonNode> listener) {
        events = listener;
    }

    /** Stops reading until the returned handle is closed (tests: a subscriber that falls behind). */
    AutoCloseable holdReading() {
        reading.lock();
        return reading::unlock;
    }

    boolean isOpen() {
        return !closed.isDone();
    }

    CompletableFuture<JsonNode> send(MessageType type, Object payload, Duration timeout) {
        long id = requestIds.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        try {
            byte[] body = payload == null ? new byte[0] : json.writeValueAsBytes(payload);
            ByteBuffer frame = new Frame(type.code(), 0, id, body).encode();
            if (closed.isDone()) {
                throw new IOException("connection is closed");
            }
            synchronized (writeLock) {
                while (frame.hasRemaining()) {
                    channel.write(frame);
                }
            }
        } catch (IOException e) {
            closeWith(e);
        }
        return reply.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((r, e) -> pending.remove(id))
                .exceptionallyCompose(e -> CompletableFuture.failedFuture(translate(type, timeout, e)));
    }

    /** Sends a request and waits for its reply. */
    JsonNode call(MessageType type, Object payload, Duration timeout) {
        try {
            return send(type, payload, timeout).join();
        } catch (CompletionException e) {
            throw (AgentException) translate(type, timeout, e);
        }
    }

    @Override
    public void close() {
        closeWith(new IOException("closed by the service"));
    }

    private static Throwable translate(MessageType type, Duration timeout, Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof AgentException) {
            return cause;
        }
        if (cause instanceof TimeoutException) {
            return new AgentException(AgentException.TIMEOUT,
                    "agent did not answer " + type.name().toLowerCase() + " within " + timeout.toMillis() + " ms");
        }
        return new AgentException(AgentException.UNAVAILABLE, "agent connection failed: " + cause.getMessage(), cause);
    }

    private void readLoop() {
        ByteBuffer header = ByteBuffer.allocate(Frame.HEADER_SIZE);
        try {
            while (true) {
                header.clear();
                reading.lock();
                reading.unlock();
                readFully(header);
                Frame.Header h = Frame.decodeHeader(header.flip());
                ByteBuffer payload = ByteBuffer.allocate(h.length());
                readFully(payload);
                dispatch(h, payload.array());
            }
        } catch (Exception e) {
            closeWith(e);
        }
    }

    private void dispatch(Frame.Header header, byte[] payload) throws Frame.ProtocolException {
        boolean event = header.flags() == 0 && header.requestId() == 0 && header.type() == MessageType.EVENT.code();
        if ((header.flags() & Frame.FLAG_REPLY) == 0 && !event) {
            throw new Frame.ProtocolException("agent sent a request frame of type " + header.type());
        }
        JsonNode body;
        try {
            body = payload.length == 0 ? json.createObjectNode() : json.readTree(payload);
        } catch (JacksonException e) {
            throw new Frame.ProtocolException("agent sent a payload that is not JSON: " + e.getOriginalMessage());
        }
        if (event) {
            events.accept(body);
            return;
        }
        CompletableFuture<JsonNode> reply = pending.remove(header.requestId());
        if (reply == null) {
            if (header.requestId() == 0 && (header.flags() & Frame.FLAG_ERROR) != 0) {
                log.warn("agent reported a connection error: {}", body);
            } else {
                log.debug("reply to request {} arrived after it timed out", header.requestId());
            }
            return;
        }
        if ((header.flags() & Frame.FLAG_ERROR) != 0) {
            reply.completeExceptionally(new AgentException(
                    body.path("code").asString("INTERNAL"), body.path("message").asString("agent error")));
        } else {
            reply.complete(body);
        }
    }

    private void readFully(ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (channel.read(buf) < 0) {
                throw new EOFException("agent closed the connection");
            }
        }
    }

    private void closeWith(Throwable cause) {
        if (!closed.complete(cause)) {
            return;
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // already broken; the cause above is what matters
        }
        AgentException failure = new AgentException(AgentException.UNAVAILABLE,
                "connection to agent lost: " + cause.getMessage(), cause);
        pending.values().forEach(f -> f.completeExceptionally(failure));
        pending.clear();
    }
}
