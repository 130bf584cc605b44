package dev.faultline.web;

import java.io.IOException;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.Resource;
import org.springframework.web.servlet.config.annotation.ResourceHandlerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.resource.PathResourceResolver;

/**
 * Serves the web UI built into classpath:/static. A path that is not a file and not part of
 * the API is a client-side route, so it gets index.html; API paths never do, so an unknown API
 * path stays a 404 problem.
 */
@Configuration
class SpaResourceConfig implements WebMvcConfigurer {

    private static final String[] SERVER_PREFIXES = {"api/", "actuator", "v3/", "swagger-ui", "error"};

    @Override
    public void addResourceHandlers(ResourceHandlerRegistry registry) {
        registry.addResourceHandler("/**")
                .addResourceLocations("classpath:/static/")
                .resourceChain(true)
                .addResolver(new PathResourceResolver() {
                    @Override
                    protected Resource getResource(String path, Resource location) throws IOException {
                        Resource resource = location.createRelative(path);
                        if (resource.exists() && resource.isReadable()) {
                            return resource;
                        }
                        for (String prefix : SERVER_PREFIXES) {
                            if (path.startsWith(prefix)) {
                                return null;
                            }
                        }
                        if (path.substring(path.lastIndexOf('/') + 1).contains(".")) {
                            return null; // a missing asset, not a route
                        }
                        Resource index = new ClassPathResource("static/index.html");
                        return index.exists() ? index : null;
                    }
                });
    }
}
