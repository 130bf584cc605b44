package dev.faultline.web;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.apache.catalina.core.StandardHost;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Bounds on what a request may carry, and problem+json for what Tomcat rejects itself. Headers
 * (with the request line) are bounded by {@code server.max-http-request-header-size}
 * (application.yml); bodies here: no API request needs more than {@link #MAX_BODY_BYTES}.
 */
@Configuration
class RequestLimits {

    /** The largest request body taken: far above any API request (the biggest is a label set, under 32 KiB). */
    static final long MAX_BODY_BYTES = 1 << 20;

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemErrorReports() {
        // the host creates its error report valve at start, from this class name
        return factory -> factory.addContextCustomizers(context -> {
            if (context.getParent() instanceof StandardHost host) {
                host.setErrorReportValveClass(ProblemErrorReportValve.class.getName());
            }
        });
    }

    @Bean
    BodyLimitFilter bodyLimitFilter(Problems problems) {
        return new BodyLimitFilter(problems);
    }

    /** 413 for a declared length over the limit; a chunked body is cut off where it passes it. */
    @Order(Ordered.HIGHEST_PRECEDENCE + 1)
    static final class BodyLimitFilter extends OncePerRequestFilter {

        private final Problems problems;

        BodyLimitFilter(Problems problems) {
            this.problems = problems;
        }

        @Override
        protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
                throws ServletException, IOException {
            if (request.getContentLengthLong() > MAX_BODY_BYTES) {
                problems.write(request, response, ProblemKind.PAYLOAD_TOO_LARGE,
                        "The request body is larger than " + MAX_BODY_BYTES + " bytes");
                return;
            }
            chain.doFilter(request.getContentLengthLong() >= 0 ? request : new Bounded(request), response);
        }
    }

    /** A body of unknown length that fails to read past the limit (the JSON reader turns that into a 400). */
    private static final class Bounded extends HttpServletRequestWrapper {

        Bounded(HttpServletRequest request) {
            super(request);
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            ServletInputStream in = super.getInputStream();
            return new ServletInputStream() {
                private long read;

                @Override
                public int read() throws IOException {
                    int b = in.read();
                    if (b >= 0) {
                        count(1);
                    }
                    return b;
                }

                @Override
                public int read(byte[] buf, int off, int len) throws IOException {
                    int n = in.read(buf, off, len);
                    if (n > 0) {
                        count(n);
                    }
                    return n;
                }

                private void count(int n) throws IOException {
                    read += n;
                    if (read > MAX_BODY_BYTES) {
                        throw new IOException("the request body is larger than " + MAX_BODY_BYTES + " bytes");
                    }
                }

                @Override
                public boolean isFinished() {
                    return in.isFinished();
                }

                @Override
                public boolean isReady() {
                    return in.isReady();
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    in.setReadListener(listener);
                }
            };
        }
    }
}
