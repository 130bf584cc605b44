package dev.faultline.snapshot;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Runs jobs on the caller's thread, so a test sees a job's outcome as soon as the transaction
 * that started it has committed; or, while holding, keeps them, so a test can drop them the way
 * a crash would.
 */
public class HoldingExecutor implements Executor {

    private final List<Runnable> held = new ArrayList<>();
    private boolean holding;

    @Override
    public synchronized void execute(Runnable job) {
        if (holding) {
            held.add(job);
        } else {
            job.run();
        }
    }

    public synchronized void hold() {
        holding = true;
    }

    /** Forgets the held jobs, as a process that died would, and runs jobs at once again. */
    public synchronized int dropHeldJobs() {
        int dropped = held.size();
        held.clear();
        holding = false;
        return dropped;
    }

    public synchronized void reset() {
        held.clear();
        holding = false;
    }
}
