package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Workspace;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.profile.StageBreakdown;

/**
 * The step builder's workspace function is the one every plan of the step counts: the report, the
 * stage breakdown and {@code auto}'s trial plans (a device with its own scratch plugs in here).
 * Check: {@code mvn -B -q test -Dtest=StepBuilderTest}.
 */
class StepBuilderTest {
    private static Step build(StepPasses passes, Workspace ws) {
        return StepBuilder.training(new DeepLabV3Plus(PlanMatchesTrainerTest.TINY), 2, 32, 32).passes(passes).workspace(ws).build();
    }

    @Test
    void aDeviceWorkspaceFunctionIsCountedByTheReportTheBreakdownAndAutosTrials() {
        MemoryReport op = build(StepPasses.NONE, Workspace.OP).report();
        MemoryReport opStages = build(StepPasses.NONE.withRecompute(RecomputePolicy.stages()), Workspace.OP).report();
        long gap = op.plannedPeakBytes() - opStages.plannedPeakBytes();
        assertTrue(gap > 64 * 1024, "stages saves memory: " + gap);
        long extra = 2 * gap;   // a device scratch larger than what recomputation can save
        Workspace device = (node, inputs) -> Workspace.OP.bytes(node, inputs) + extra;

        Step none = build(StepPasses.NONE, device);
        assertEquals(op.workspaceBytes() + extra, none.report().workspaceBytes());
        assertEquals(op.plannedPeakBytes() + extra, none.report().plannedPeakBytes());
        StageBreakdown b = StageBreakdown.of(new org.leanseg.profile.StepPlan(PlanMatchesTrainerTest.TINY, null, none));
        assertEquals(none.report().workspaceBytes(), b.workspaceBytes());

        // between none and stages as the device counts them; trials counting only the ops' workspace
        // would find that none already fits and leave the step over the budget
        long budget = (none.report().plannedPeakBytes() + opStages.plannedPeakBytes() + extra) / 2;
        Step auto = build(StepPasses.NONE.withRecompute(RecomputePolicy.auto(new ByteSize(budget))), device);
        assertTrue(auto.report().plannedPeakBytes() <= budget, auto.report().plannedPeakBytes() + " vs budget " + budget);
        assertTrue(auto.report().recomputeFlops() > none.report().recomputeFlops(), "auto recomputes stages");
    }
}
