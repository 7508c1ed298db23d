package org.leanseg.graph.passes;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;

/**
 * A recompute policy as the step rewrites see it: which forward nodes of a whole step graph
 * (forward, backward, optimizer, after autograd) {@link Recompute} should replay in backward. The
 * policies themselves ({@code none}, {@code stages}, {@code sqrt}, {@code auto:<bytes>}) live in
 * {@code memory.recompute}, since {@code auto} plans memory; this hook keeps graph/passes free of
 * the planner.
 *
 * <pre>{@code
 * StepPasses passes = StepPasses.FUSED.withRecompute(RecomputePolicy.parse("stages"));
 * }</pre>
 */
@FunctionalInterface
public interface RecomputeChoice {
    /** Recomputes what the fusion passes choose, nothing more. */
    RecomputeChoice NONE = new RecomputeChoice() {
        @Override
        public Set<Node> choose(Graph step, Set<Node> base, Rewrite rewrite) {
            return base;
        }

        @Override
        public String toString() {
            return "none";
        }
    };

    /**
     * How the step builder turns a choice into the step graph it plans and runs ({@link Recompute}
     * and what follows it, e.g. {@link UpdatesInBackward}); a policy that plans trial choices
     * ({@code auto}) plans {@code rewrite.apply(step, chosen).graph()}, so its trials are planned
     * as the chosen step will be.
     */
    @FunctionalInterface
    interface Rewrite {
        Rebuild.Result apply(Graph step, Set<Node> chosen);
    }

    /**
     * The forward nodes of {@code step} to recompute, each passing {@link Recompute#replayable}:
     * normally {@code base} (what cheap-op recomputation chose; empty when not fused) and more,
     * though a policy may drop base nodes that would undo its checkpoints. Every step is planned in
     * place (Note [One in-place rule] in {@code memory.GraphPlan}).
     */
    Set<Node> choose(Graph step, Set<Node> base, Rewrite rewrite);
}
