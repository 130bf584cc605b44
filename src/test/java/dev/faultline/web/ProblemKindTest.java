package dev.faultline.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Problem;
import org.junit.jupiter.api.Test;

/** Every problem the domain can report has an API type of the same name, so none becomes a 500. */
class ProblemKindTest {

    @Test
    void eachDomainProblemHasTheApiKindOfItsName() {
        for (Problem problem : Problem.values()) {
            assertThat(ProblemKind.of(problem).name()).isEqualTo(problem.name());
        }
    }
}
