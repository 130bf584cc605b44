package dev.faultline.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import org.junit.jupiter.api.Test;

/** What a browser or an API client finds without a token: the UI, its routes, the API document. */
class WebSurfaceTest extends ServiceTest {

    private static final String BROWSER_ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.8";

    @Test
    void theWebUiIsServedAtTheRootAndOnClientSideRoutes() {
        TestApi.Response root = anonymous().withHeader("/", "Accept", BROWSER_ACCEPT);
        assertThat(root.status()).isEqualTo(200);
        assertThat(root.body()).contains("<div id=\"root\">");

        TestApi.Response route = anonymous().withHeader("/sign-in", "Accept", BROWSER_ACCEPT);
        assertThat(route.status()).as("a reload on a client-side route gets the app").isEqualTo(200);
        assertThat(route.body()).isEqualTo(root.body());

        assertThat(anonymous().withHeader("/assets/missing.js", "Accept", "*/*").status()).as("a missing asset is not the app").isEqualTo(404);
    }

    @Test
    void theOpenApiDocumentDescribesTheApiAndItsBearerScheme() {
        TestApi.Response doc = anonymous().get("/v3/api-docs");

        assertThat(doc.status()).isEqualTo(200);
        assertThat(doc.json().at("/paths/~1api~1v1~1host/get").isObject()).isTrue();
        assertThat(doc.json().at("/paths/~1api~1v1~1tokens/post").isObject()).isTrue();
        assertThat(doc.json().at("/components/securitySchemes/bearer/scheme").asString()).isEqualTo("bearer");
    }
}
