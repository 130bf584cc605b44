package dev.faultline.snapshot;

/** The outcome of the last verification of a snapshot's page checksums. */
public enum VerifiedState {
    UNVERIFIED, VERIFIED, CORRUPT
}
