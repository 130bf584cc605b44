package dev.faultline.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** What one token, or one source, can hold or try: event streams, and failed authentications. */
class StreamAndAuthLimitsTest extends ServiceTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @Test
    void aTokenHoldsABoundedNumberOfEventStreams() throws Exception {
        String token = newToken("VIEWER").path("token").asString();
        List<HttpResponse<InputStream>> open = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) { // faultline.events.max-streams-per-token
                HttpResponse<InputStream> stream = openStream("localhost", token);
                assertThat(stream.statusCode()).isEqualTo(200);
                assertThat(firstLine(stream)).startsWith(":faultline events after id");
                open.add(stream);
            }
            HttpResponse<InputStream> oneMore = openStream("localhost", token);
            String body = new String(oneMore.body().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(oneMore.statusCode()).as(body).isEqualTo(429);
            assertThat(oneMore.headers().firstValue("Content-Type")).hasValueSatisfying(
                    t -> assertThat(t).startsWith("application/problem+json"));
            assertThat(body).contains("too-many-requests").contains("event streams");

            HttpResponse<InputStream> otherToken = openStream("localhost", adminToken());
            assertThat(otherToken.statusCode()).as("another token is not affected").isEqualTo(200);
            open.add(otherToken);
        } finally {
            for (HttpResponse<InputStream> stream : open) {
                stream.body().close();
            }
        }
    }

    @Test
    void revokingATokenClosesItsEventStreams() throws Exception {
        JsonNode issued = newToken("VIEWER");
        HttpResponse<InputStream> stream = openStream("localhost", issued.path("token").asString());
        assertThat(stream.statusCode()).isEqualTo(200);
        BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
        assertThat(lines.readLine()).startsWith(":faultline events after id");
        CompletableFuture<Void> ended = CompletableFuture.runAsync(() -> {
            try {
                while (lines.readLine() != null) {
                    // events and keep-alives until the server ends the stream
                }
            } catch (java.io.IOException closed) {
                // ended as well
            }
        });

        assertThat(admin().delete("/api/v1/tokens/" + issued.path("id").asString()).status()).isEqualTo(204);

        ended.get(10, TimeUnit.SECONDS); // fails with a TimeoutException if the stream lives on
        assertThat(api(issued.path("token").asString()).get("/api/v1/events").status()).isEqualTo(401);
    }

    @Test
    void aSourceThatKeepsFailingToAuthenticateGets429ForAWhileButGoodTokensPass() throws Exception {
        // a loopback source address of its own, so no other test's requests count with these
        for (int i = 0; i < BearerTokenFilter.MAX_FAILURES_PER_SOURCE; i++) {
            assertThat(get("127.0.0.2", "flt_" + UUID.randomUUID())).startsWith("HTTP/1.1 401");
        }
        String refused = get("127.0.0.2", "flt_" + UUID.randomUUID());
        assertThat(refused).startsWith("HTTP/1.1 429");
        assertThat(refused.toLowerCase()).contains("content-type: application/problem+json").contains("retry-after: ");
        assertThat(refused).contains("too-many-requests");
        assertThat(get("127.0.0.2", adminToken())).as("a good token is never locked out").startsWith("HTTP/1.1 200");
        assertThat(get("127.0.0.5", "flt_" + UUID.randomUUID())).as("other sources go on").startsWith("HTTP/1.1 401");
    }

    @Test
    void oneTokenTriedOverAndOverGets429FromAnySource() throws Exception {
        String prefix = "flt_" + UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < BearerTokenFilter.MAX_FAILURES_PER_TOKEN; i++) {
            assertThat(get("127.0.0.3", prefix + "guess" + i)).startsWith("HTTP/1.1 401");
        }
        assertThat(get("127.0.0.3", prefix + "guess-more")).startsWith("HTTP/1.1 429");
        assertThat(get("127.0.0.4", prefix + "from-elsewhere")).as("the same token from another source")
                .startsWith("HTTP/1.1 429");
        assertThat(get("127.0.0.4", "flt_" + UUID.randomUUID())).as("another token from there")
                .startsWith("HTTP/1.1 401");
    }

    private JsonNode newToken(String role) {
        TestApi.Response created = admin().post("/api/v1/tokens", TestApi.map("name",
                "limits-" + UUID.randomUUID().toString().substring(0, 8), "role", role));
        assertThat(created.status()).isEqualTo(201);
        return created.json();
    }

    private HttpResponse<InputStream> openStream(String host, String token) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/api/v1/events/stream"))
                .header("Accept", "text/event-stream").header("Authorization", "Bearer " + token).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
    }

    /** GET /api/v1/host from {@code source} (a loopback address), raw: the response's head and body. */
    private String get(String source, String token) throws java.io.IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(source, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET /api/v1/host HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                    + "Authorization: Bearer " + token + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String firstLine(HttpResponse<InputStream> stream) throws java.io.IOException {
        StringBuilder line = new StringBuilder();
        for (int c = stream.body().read(); c >= 0 && c != '\n'; c = stream.body().read()) {
            line.append((char) c);
        }
        return line.toString();
    }
}
