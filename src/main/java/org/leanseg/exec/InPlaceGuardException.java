package org.leanseg.exec;

import java.util.Set;
import org.leanseg.graph.Variable;

/**
 * Thrown before a step runs when an in-place BN or GN layer's γ is too close to 0 to recover x̂ from
 * its output (Note [In-place BN backward], Note [In-place GN backward]). Nothing has run. Rebuild the step with those layers left
 * stock: {@code new TrainGraph(..., passes.withStockBatchNorm(e.gammas()))}.
 */
public final class InPlaceGuardException extends IllegalStateException {
    private final transient Set<Variable> gammas;

    public InPlaceGuardException(String message, Set<Variable> gammas) {
        super(message);
        this.gammas = Set.copyOf(gammas);
    }

    /** The γ variables of the layers that must keep their input. */
    public Set<Variable> gammas() {
        return gammas;
    }
}
