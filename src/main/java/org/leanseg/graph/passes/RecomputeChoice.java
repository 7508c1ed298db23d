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
        public Set<Node> choose(Graph step, Set<Node> base, boolean inPlace) {
            return base;
        }

        @Override
        public String toString() {
            return "none";
        }
    };

    /**
     * The forward nodes of {@code step} to recompute, each passing {@link Recompute#replayable}:
     * normally {@code base} (what cheap-op recomputation chose; empty when not fused) and more,
     * though a policy may drop base nodes that would undo its checkpoints. {@code inPlace} is the
     * passes' fuse flag; the policies do not read it, since every step is planned in place
     * (Note [One in-place rule] in {@code memory.GraphPlan}).
     */
    Set<Node> choose(Graph step, Set<Node> base, boolean inPlace);
}
