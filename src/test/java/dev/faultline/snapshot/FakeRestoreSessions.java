package dev.faultline.snapshot;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records the sessions handed to the restore feature; {@link #failing} makes the next one fail. */
public class FakeRestoreSessions implements RestoreSessions {

    public record Recorded(String node, UUID sessionId) {
    }

    public final List<Recorded> recorded = new CopyOnWriteArrayList<>();
    public volatile String failing;

    @Override
    public void recordOpened(String node, UUID sessionId) {
        String why = failing;
        if (why != null) {
            failing = null;
            throw new IllegalStateException(why);
        }
        recorded.add(new Recorded(node, sessionId));
    }
}
