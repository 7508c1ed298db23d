package org.leanseg.ops;

/** Bad arguments to an op; {@link org.leanseg.graph.Graph#apply} adds the op, stage and shapes. */
public class OpException extends RuntimeException {
    public OpException(String message) {
        super(message);
    }

    public static void check(boolean ok, String message) {
        if (!ok) {
            throw new OpException(message);
        }
    }
}
