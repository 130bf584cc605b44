package dev.faultline.snapshot;

/** What can be done to a snapshot once it exists. */
public enum OperationKind {
    VERIFY, RESTORE, DELETE
}
