package dev.faultline.snapshot;

/** A full image holds every present page; an incremental one only the pages changed since its parent. */
public enum SnapshotKind {
    FULL, INCREMENTAL
}
