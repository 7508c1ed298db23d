package org.leanseg.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Planner;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.nn.ParamSet;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** The per-stage attribution of the planned peak, as data (no step is run): every byte counted once. */
class StageBreakdownTest {
    private static long parameterBytes(ParamSet ps) {
        return ps.entries().stream().filter(e -> e.variable().role() == Role.PARAMETER).mapToLong(e -> e.variable().spec().bytes()).sum();
    }

    private static void addsUp(StageBreakdown b, MemoryReport r, long parameterBytes, int ops) {
        assertEquals(r.plannedPeakBytes(), b.totalBytes(), "stages + workspace + arena gap = planned peak");
        List<StageBreakdown.Stage> st = b.stages();
        assertEquals(r.lowerBoundBytes(), st.stream().mapToLong(s -> s.activationsAtPeakBytes() + s.gradientsAtPeakBytes()).sum(),
                "the arena bytes live at the peak step are the lower bound");
        assertEquals(r.lowerBoundBytes(), b.liveBytes()[b.peakStep()]);
        assertEquals(r.persistentBytes(), st.stream().mapToLong(StageBreakdown.Stage::persistentBytes).sum());
        assertEquals(r.persistent().weightsBytes(), st.stream().mapToLong(StageBreakdown.Stage::weightsBytes).sum());
        assertEquals(r.persistent().optimizerStateBytes(), st.stream().mapToLong(StageBreakdown.Stage::optimizerStateBytes).sum());
        assertEquals(r.savedForBackwardBytes(), st.stream().mapToLong(StageBreakdown.Stage::savedForBackwardBytes).sum());
        assertEquals(parameterBytes, st.stream().mapToLong(StageBreakdown.Stage::parameterGradientBytes).sum(),
                "every parameter's gradient, once");
        assertEquals(r.workspaceBytes(), b.workspaceBytes());
        assertEquals(r.activationPeakBytes() - r.lowerBoundBytes(), b.arenaGapBytes());
        assertEquals(r.workspaceBytes(), st.stream().mapToLong(StageBreakdown.Stage::workspaceBytes).max().orElseThrow());
        assertEquals(ops + 1, b.liveBytes().length);
        int next = 0;
        for (StageBreakdown.PhaseRun run : b.phases()) {
            assertEquals(next, run.from());
            assertTrue(run.to() > run.from());
            next = run.to();
        }
        assertEquals(ops, next, "phase runs cover the schedule");
        assertEquals(Phase.FORWARD, b.phases().get(0).phase());
    }

    @Test
    void fusedAndPlainStepsAddUpToThePlannedPeak() {
        for (StepPasses passes : List.of(StepPasses.FUSED, StepPasses.NONE)) {
            StepPlan p = StepPlan.of(ModelTest.tiny(), 2, 32, 32, passes);
            StageBreakdown b = StageBreakdown.of(p);
            addsUp(b, p.report(), parameterBytes(p.network().params()), p.schedule().size());
            assertEquals(Phase.OPTIMIZER, b.phases().get(b.phases().size() - 1).phase());
            assertTrue(b.peakPhase().backwardSide(), "a training step peaks in its backward pass, not " + b.peakPhase());
            assertEquals("backbone.stem", b.stages().get(0).name());
            assertTrue(b.stages().stream().anyMatch(s -> s.name().equals("aspp") && s.weightsBytes() > 0));
        }
    }

    @Test
    void accumulatedGradientsArePersistent() {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        TrainGraph tg = new TrainGraph(m, 1, 32, 32, OptimizerSettings.pytorchDefault(), 2);
        List<Node> schedule = DeadCode.schedule(tg.stepGraph());
        MemoryPlan plan = Planner.plan(tg.stepGraph(), schedule);
        MemoryReport r = MemoryReport.of(tg.stepGraph(), schedule, plan);
        StageBreakdown b = StageBreakdown.of(tg.stepGraph(), schedule, plan, r);
        addsUp(b, r, parameterBytes(m.params()), schedule.size());
        assertEquals(parameterBytes(m.params()), b.stages().stream().mapToLong(StageBreakdown.Stage::persistentGradientsBytes).sum());
        assertEquals(0, b.stages().stream().mapToLong(StageBreakdown.Stage::optimizerStateBytes).sum(), "the update is another graph");
    }
}
