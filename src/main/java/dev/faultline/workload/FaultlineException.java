package dev.faultline.workload;

/** libfaultline failed; the message is its own description of why. */
public class FaultlineException extends RuntimeException {

    public FaultlineException(String message) {
        super(message);
    }
}
