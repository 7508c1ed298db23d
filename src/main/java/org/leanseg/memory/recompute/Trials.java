package org.leanseg.memory.recompute;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.Rebuild;
import org.leanseg.graph.passes.RecomputeChoice;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.Workspace;

/**
 * How {@code auto}'s trial choices are planned: rewritten as the step builder rewrites the chosen
 * step ({@code rewrite}: recompute, then updates in backward) and planned with its workspace
 * function ({@link GraphPlan#of}), so a choice that fits as a trial fits as the step.
 */
record Trials(RecomputeChoice.Rewrite rewrite, Workspace workspace) {
    /** The step graph with {@code chosen} recomputed, as the builder makes it. */
    Rebuild.Result rebuilt(Graph g, Set<Node> chosen) {
        return rewrite.apply(g, chosen);
    }

    /** The plan of {@link #rebuilt}. */
    GraphPlan plan(Graph g, Set<Node> chosen) {
        return GraphPlan.of(rebuilt(g, chosen).graph(), workspace);
    }
}
