package org.leanseg.memory;

import java.util.List;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.DeadCode;

/**
 * The last stage of every step build: dead-code removal, in-place planning, the plan and its
 * report, for one graph after all its rewrites. The step builder ({@code train.StepBuilder}) ends
 * with it, {@code auto}'s trial plans are made with it, and inference graphs are planned with it,
 * so what {@code plan} and {@code profile} report is what {@code train} and {@code eval} allocate.
 *
 * <p>Note [One in-place rule]: in-place aliasing ({@code Op.inPlaceInput}, {@link Planner}) is
 * decided by the ops and the schedule, never by the rewrites: every graph is planned in place,
 * fused or not ({@code --no-fuse} turns off the rewrites, not the aliasing of ReLU, add and the
 * other ops that may write over their input), because that is the plan the {@code Executor} runs.
 * {@code Planner.plan(g, schedule, false)} stays only for the planner's own A/B tests. Before this
 * rule, {@code plan}/{@code profile} aliased only fused steps while training always aliased
 * ({@code PlanMatchesTrainerTest}).
 *
 * <pre>{@code
 * GraphPlan p = GraphPlan.of(stepGraph, Workspace.OP);
 * new Executor(p.graph(), backend, store, p.plan(), Executor.Options.defaults());
 * p.report().plannedPeakBytes();
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=PlanMatchesTrainerTest}.
 */
public record GraphPlan(Graph graph, List<Node> schedule, MemoryPlan plan, MemoryReport report) {
    public GraphPlan {
        schedule = List.copyOf(schedule);
    }

    /** Plans {@code g} as it will run: its dead-code-free schedule, in place (Note [One in-place rule]), workspace by {@code workspace}. */
    public static GraphPlan of(Graph g, Workspace workspace) {
        List<Node> schedule = DeadCode.schedule(g);
        MemoryPlan plan = Planner.plan(g, schedule);
        return new GraphPlan(g, schedule, plan, MemoryReport.of(g, schedule, plan, workspace));
    }
}
