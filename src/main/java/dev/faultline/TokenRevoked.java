package dev.faultline;

import java.util.UUID;

/** Published when a token is revoked: what it holds open (event streams) closes. */
public record TokenRevoked(UUID tokenId) {
}
