package dev.faultline.security;

import java.util.UUID;

/** Who is calling: the token that authenticated the request. */
public record TokenPrincipal(UUID tokenId, String name, Role role) {
}
