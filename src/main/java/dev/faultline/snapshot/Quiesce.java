package dev.faultline.snapshot;

/** Whether the workload confirmed it was quiescent while its region was write-protected. */
public enum Quiesce {
    YES, NO, TIMEOUT
}
