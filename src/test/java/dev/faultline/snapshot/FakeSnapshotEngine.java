package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An engine that succeeds at once and records what it was asked, or behaves like the
 * {@link UnavailableSnapshotEngine} when told to.
 */
public class FakeSnapshotEngine implements SnapshotEngine {

    public final List<TakeRequest> takes = new CopyOnWriteArrayList<>();
    public final List<Image> verified = new CopyOnWriteArrayList<>();
    public final List<Image> deleted = new CopyOnWriteArrayList<>();
    public final List<List<Image>> consolidated = new CopyOnWriteArrayList<>();
    public final List<RestoreRequest> restores = new CopyOnWriteArrayList<>();

    private volatile boolean unavailable;
    private volatile boolean corrupt;
    private volatile Quiesce quiesced = Quiesce.YES;

    public void reset() {
        takes.clear();
        verified.clear();
        deleted.clear();
        consolidated.clear();
        restores.clear();
        unavailable = false;
        corrupt = false;
        quiesced = Quiesce.YES;
    }

    public void makeUnavailable() {
        unavailable = true;
    }

    public void findCorruption() {
        corrupt = true;
    }

    public void reportQuiesced(Quiesce outcome) {
        quiesced = outcome;
    }

    @Override
    public TakeResult take(TakeRequest request) {
        if (unavailable) {
            return new UnavailableSnapshotEngine().take(request);
        }
        takes.add(request);
        return new TakeResult(8 << 20, 2048, 1500, 300, "sha256:" + request.snapshotId(), quiesced,
                new LatencySummary(12, null, null, 95_000L, 180_000));
    }

    @Override
    public Verification verify(Image image) {
        if (unavailable) {
            return new UnavailableSnapshotEngine().verify(image);
        }
        verified.add(image);
        return corrupt ? new Verification(false, "page 17: checksum mismatch") : new Verification(true, "2048 pages intact");
    }

    @Override
    public Consolidation consolidate(Image parent, Image child) {
        if (unavailable) {
            return new UnavailableSnapshotEngine().consolidate(parent, child);
        }
        consolidated.add(List.of(parent, child));
        return new Consolidation(12 << 20, "sha256:merged-" + child.snapshotId());
    }

    @Override
    public void delete(Image image) {
        deleted.add(image);
    }

    @Override
    public java.util.UUID restore(RestoreRequest request) {
        if (unavailable) {
            return new UnavailableSnapshotEngine().restore(request);
        }
        restores.add(request);
        return request.sessionId();
    }
}
