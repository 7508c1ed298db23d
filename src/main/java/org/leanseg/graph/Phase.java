package org.leanseg.graph;

/**
 * Where in the training step an op runs; the memory timeline marks these. RECOMPUTE ops are
 * forward ops replayed during the backward pass to rebuild activations that were not kept.
 */
public enum Phase {
    FORWARD, BACKWARD, RECOMPUTE, OPTIMIZER;

    /** Whether ops of this phase run after the forward/backward boundary and before the optimizer. */
    public boolean backwardSide() {
        return this == BACKWARD || this == RECOMPUTE;
    }
}
