package dev.faultline;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.data.jpa.test.autoconfigure.DataJpaTest;
import org.springframework.boot.jdbc.test.autoconfigure.AutoConfigureTestDatabase;
import org.springframework.test.context.ContextConfiguration;

/**
 * A JPA slice on an in-memory H2 with the same options as the service's database (PostgreSQL
 * mode), migrated by Flyway; one database per application context. With
 * {@code -Dfaultline.test.database=postgresql} the same slice runs on a fresh database of the
 * throwaway PostgreSQL server instead ({@link TestDatabase}).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@DataJpaTest(properties = {
    "spring.datasource.url=jdbc:h2:mem:${random.uuid};DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH",
    "faultline.snapshots.dir=${java.io.tmpdir}/faultline-slice-tests/snapshots",
    "faultline.snapshots.min-free-space=1MB"})
@AutoConfigureTestDatabase(replace = AutoConfigureTestDatabase.Replace.NONE)
@ContextConfiguration(initializers = TestDatabase.class)
public @interface JpaSliceTest {
}
