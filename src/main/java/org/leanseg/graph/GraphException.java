package org.leanseg.graph;

/** A graph could not be built: the message names the op, the stage and the offending shapes. */
public class GraphException extends RuntimeException {
    public GraphException(String message) {
        super(message);
    }

    public GraphException(String message, Throwable cause) {
        super(message, cause);
    }
}
