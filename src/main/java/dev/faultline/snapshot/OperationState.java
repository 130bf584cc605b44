package dev.faultline.snapshot;

/** PENDING → RUNNING → SUCCEEDED | FAILED. */
public enum OperationState {
    PENDING, RUNNING, SUCCEEDED, FAILED
}
