package dev.faultline.snapshot;

/** The engine could not do what was asked; the message is shown to operators as the job's error. */
public class SnapshotEngineException extends RuntimeException {

    public SnapshotEngineException(String message) {
        super(message);
    }

    public SnapshotEngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
