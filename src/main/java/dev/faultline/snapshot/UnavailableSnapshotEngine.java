package dev.faultline.snapshot;

/**
 * The engine of an agent that does not speak the snapshot messages yet: every job that needs
 * page contents fails with a clear error instead of hanging or pretending. Deleting succeeds,
 * because this engine never wrote an image that could be left behind.
 */
class UnavailableSnapshotEngine implements SnapshotEngine {

    static final String MESSAGE = "snapshot engine not available in this agent version";

    @Override
    public TakeResult take(TakeRequest request) {
        throw new SnapshotEngineException(MESSAGE);
    }

    @Override
    public Verification verify(Image image) {
        throw new SnapshotEngineException(MESSAGE);
    }

    @Override
    public Consolidation consolidate(Image parent, Image child) {
        throw new SnapshotEngineException(MESSAGE);
    }

    @Override
    public void delete(Image image) {
        // nothing to remove: no image was ever written through this engine
    }

    @Override
    public java.util.UUID restore(RestoreRequest request) {
        throw new SnapshotEngineException(MESSAGE);
    }
}
