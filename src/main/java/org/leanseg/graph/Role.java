package org.leanseg.graph;

/** What a value is for; the planner and the memory report group bytes by role. */
public enum Role {
    /** Fed from outside each step (images, labels). */
    INPUT,
    /** A trainable weight (persistent). */
    PARAMETER,
    /** Persistent non-trainable state, e.g. BN running statistics. */
    BUFFER,
    /** Persistent gradient accumulator of a parameter. */
    GRADIENT,
    /** Persistent optimizer state, e.g. SGD momentum. */
    OPTIMIZER_STATE,
    /** Produced by an op inside the step; lives in the planned arena. */
    ACTIVATION;

    public boolean persistent() {
        return this == PARAMETER || this == BUFFER || this == GRADIENT || this == OPTIMIZER_STATE;
    }
}
