package dev.faultline.web;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Builds problem details and writes them where no controller is involved (security filters).
 * Controllers never use this directly: they throw {@link ApiException}.
 */
@Component
public class Problems {

    private final JsonMapper json;

    Problems(JsonMapper json) {
        this.json = json;
    }

    public static ProblemDetail of(ProblemKind kind, String detail, String instance) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(kind.status(), detail);
        problem.setType(kind.type());
        problem.setTitle(kind.title());
        if (instance != null) {
            problem.setInstance(URI.create(instance));
        }
        return problem;
    }

    public void write(HttpServletRequest request, HttpServletResponse response, ProblemKind kind, String detail)
            throws IOException {
        ProblemDetail problem = of(kind, detail, request.getRequestURI());
        response.setStatus(kind.status().value());
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        json.writeValue(response.getOutputStream(), problem);
    }
}
