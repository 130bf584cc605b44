package dev.faultline.security;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.data.jpa.repository.Query;
import org.springframework.data.repository.ListCrudRepository;

interface ApiTokenRepository extends ListCrudRepository<ApiToken, UUID> {

    Optional<ApiToken> findBySecretHash(String secretHash);

    boolean existsByName(String name);

    List<ApiToken> findAllByOrderByCreatedAtAsc();

    @Query("select count(t) from ApiToken t where t.role = dev.faultline.security.Role.ADMIN"
            + " and (t.expiresAt is null or t.expiresAt > :now)")
    long countActiveAdmins(Instant now);
}
