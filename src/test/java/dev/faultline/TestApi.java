package dev.faultline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A real HTTP client for the service under test, with one token. */
public final class TestApi {

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final int port;
    private final String token;

    TestApi(int port, String token) {
        this.port = port;
        this.token = token;
    }

    public record Response(int status, String contentType, String body, java.net.http.HttpHeaders headers) {

        public JsonNode json() {
            return JSON.readTree(body);
        }

        public boolean isProblem() {
            return contentType != null && contentType.startsWith("application/problem+json");
        }
    }

    public Response get(String path) {
        return send(builder(path).GET());
    }

    public Response get(String path, String accept) {
        return send(builder(path).setHeader("Accept", accept).GET());
    }

    public Response delete(String path) {
        return send(builder(path).DELETE());
    }

    public Response post(String path, Object body) {
        return send(builder(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : JSON.writeValueAsString(body))));
    }

    /** PUT with a JSON body; {@code headers} are name, value pairs (e.g. If-Match). */
    public Response put(String path, Object body, String... headers) {
        return send("PUT", path, body, "application/json", headers);
    }

    /** PATCH with a JSON merge patch (RFC 7396). */
    public Response patch(String path, Object body, String... headers) {
        return send("PATCH", path, body, "application/merge-patch+json", headers);
    }

    /** Any method, with an optional body of the given content type and extra headers (name, value pairs). */
    public Response send(String method, String path, Object body, String contentType, String... headers) {
        HttpRequest.Builder b = builder(path);
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        if (body == null) {
            return send(b.method(method, HttpRequest.BodyPublishers.noBody()));
        }
        return send(b.header("Content-Type", contentType).method(method,
                HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : JSON.writeValueAsString(body))));
    }

    public Response withHeader(String path, String name, String value) {
        return send(HttpRequest.newBuilder(uri(path)).header(name, value).GET());
    }

    public static Map<String, Object> map(Object... kv) {
        java.util.LinkedHashMap<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private HttpRequest.Builder builder(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).header("Accept", "application/json");
        return token == null ? b : b.header("Authorization", "Bearer " + token);
    }

    private URI uri(String path) {
        return URI.create("http://localhost:" + port + path);
    }

    private static Response send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> r = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(null), r.body(), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
