package org.leanseg.memory.recompute;

import org.leanseg.ops.norm.BatchNorm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Planner;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** The recompute policies as data: spelling, what each keeps and recomputes, BN updated once, auto's budget. */
class RecomputePolicyTest {
    /** A tiny MobileNetV2 DeepLabV3+ with the aux head, so the aux stage and a two-term loss are covered. */
    static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4).withAuxHead(true);

    static Graph step(StepPasses passes) {
        return new TrainGraph(new DeepLabV3Plus(TINY), 2, 64, 64, OptimizerSettings.pytorchDefault(), 1, passes).stepGraph();
    }

    static MemoryReport report(Graph g) {
        List<Node> schedule = DeadCode.schedule(g);
        return MemoryReport.of(g, schedule, Planner.plan(g, schedule));
    }

    private static final Map<String, MemoryReport> REPORTS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The report of the step under {@code passes}, planned once for all tests. */
    static MemoryReport report(StepPasses passes) {
        return REPORTS.computeIfAbsent(passes.fuse() + "/" + passes.recompute(), k -> report(step(passes)));
    }

    @Test
    void policiesAndByteSizesAreSpelledAsOnTheCommandLine() {
        for (String s : List.of("none", "stages", "sqrt", "auto:6GiB", "auto:512MiB", "auto:1000", "auto-greedy:6GiB")) {
            assertEquals(s, RecomputePolicy.parse(s).toString());
        }
        assertEquals(RecomputePolicy.auto(new ByteSize(6L << 30)), RecomputePolicy.parse(" AUTO:6gib "));
        assertEquals(RecomputePolicy.autoGreedy(new ByteSize(6L << 30)), RecomputePolicy.parse("Auto-Greedy:6GiB"));
        assertEquals(6_000_000_000L, ByteSize.parse("6GB").bytes());
        assertEquals(1536L << 20, ByteSize.parse("1.5 GiB").bytes());
        assertEquals("1536MiB", ByteSize.parse("1.5GiB").toString());
        assertEquals("1.50 GiB", ByteSize.format(1536L << 20));
        for (String bad : List.of("auto", "stage", "auto:", "auto:6XB", "auto:-1", "auto:0.5", "auto-greedy", "auto-greedy:")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RecomputePolicy.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.trim()) && (e.getMessage().contains("auto:6GiB") || e.getMessage().contains("6GiB")),
                    e.getMessage());
        }
    }

    @Test
    void stagesAndSqrtSaveStrictlyLessThanNoneWithAndWithoutFusion() {
        for (StepPasses base : List.of(StepPasses.FUSED, StepPasses.NONE)) {
            MemoryReport none = report(base);
            for (RecomputePolicy p : List.of(RecomputePolicy.stages(), RecomputePolicy.sqrt())) {
                MemoryReport r = report(base.withRecompute(p));
                String what = p + (base.fuse() ? " fused" : " plain");
                assertTrue(r.savedForBackwardBytes() < none.savedForBackwardBytes() / 2,
                        what + " saves " + r.savedForBackwardBytes() + " vs " + none.savedForBackwardBytes());
                assertTrue(r.recomputeFlops() > none.recomputeFlops(), what);
                assertTrue(r.recomputeFlops() <= r.forwardFlops(), what + ": a forward op is recomputed at most once");
                // Note [Checkpoints stay kept]: without it a policy replays whole segments early, holding a
                // second forward at once (here about +1.5 MiB). At this tiny size fused none, which replays the
                // depthwise convs and their BN (Note [BN through a depthwise replay]), plans 3.61 MiB and
                // sqrt's cuts 3.86 MiB.
                assertTrue(r.plannedPeakBytes() <= 1.10 * none.plannedPeakBytes(),
                        what + ": checkpoints keep recomputation within a segment: " + r.plannedPeakBytes() + " vs " + none.plannedPeakBytes());
                assertEquals(none.forwardFlops(), r.forwardFlops(), what);
                assertEquals(none.backwardFlops(), r.backwardFlops(), what + ": backward is the same ops");
            }
        }
    }

    @Test
    void runningStatisticsAreUpdatedOnceUnderEveryPolicy() {
        for (StepPasses base : List.of(StepPasses.FUSED, StepPasses.NONE)) {
            for (RecomputePolicy p : List.of(RecomputePolicy.none(), RecomputePolicy.stages(), RecomputePolicy.sqrt())) {
                Graph g = step(base.withRecompute(p));
                Map<Variable, Integer> writers = new HashMap<>();
                int replays = 0;
                for (Node n : DeadCode.schedule(g)) {
                    for (int i : n.op().mutatedInputs()) {
                        Variable v = n.input(i).variable();
                        if (v.name().contains("running_")) {
                            writers.merge(v, 1, Integer::sum);
                            assertEquals(Phase.FORWARD, n.phase(), n::toString);
                        }
                    }
                    if (n.op() instanceof BatchNorm bn && bn.mode() == BatchNorm.Mode.REPLAY) {
                        replays++;
                        assertEquals(Phase.RECOMPUTE, n.phase());
                    }
                }
                String what = p + (base.fuse() ? " fused" : " plain");
                assertTrue(writers.values().stream().allMatch(c -> c == 1), what + ": " + writers);
                // every running statistic of a layer that normalises with batch statistics is updated
                long bnLayers = g.variables().keySet().stream().filter(v -> v.name().endsWith(".running_mean")).count();
                assertEquals(2 * bnLayers, writers.size(), what + " (at batch 2 the ASPP pooling BN normalises with batch statistics too)");
                // fused, none replays the BN layers right after a depthwise conv (Note [BN through a depthwise replay])
                assertEquals(base.fuse() || p.kind() != RecomputePolicy.Kind.NONE, replays > 0, what + ": " + replays + " replayed BN layers");
            }
        }
    }

    @Test
    void recomputedValuesAreMadeBeforeTheirFirstUseAndReadOnlyByBackward() {
        for (RecomputePolicy p : List.of(RecomputePolicy.stages(), RecomputePolicy.sqrt())) {
            Graph g = step(StepPasses.FUSED.withRecompute(p));
            List<Node> schedule = DeadCode.schedule(g);
            Map<Node, Integer> at = new HashMap<>();
            for (int i = 0; i < schedule.size(); i++) {
                at.put(schedule.get(i), i);
            }
            for (Node n : schedule) {
                if (n.phase() != Phase.RECOMPUTE) {
                    continue;
                }
                for (Value v : n.outputs()) {
                    for (Node u : v.users()) {
                        if (at.containsKey(u)) {
                            assertTrue(u.phase().backwardSide(), () -> p + ": " + v + " read by " + u);
                            assertTrue(at.get(u) > at.get(n), () -> p + ": " + u + " before " + n);
                        }
                    }
                }
            }
        }
    }

    @Test
    void autoFitsItsBudgetWithTheCheapestRecomputationOrSaysWhyNot() {
        MemoryReport none = report(StepPasses.FUSED);
        MemoryReport stages = report(StepPasses.FUSED.withRecompute(RecomputePolicy.stages()));
        MemoryReport sqrt = report(StepPasses.FUSED.withRecompute(RecomputePolicy.sqrt()));
        assertTrue(stages.plannedPeakBytes() < none.plannedPeakBytes());
        long between = (none.plannedPeakBytes() + stages.plannedPeakBytes()) / 2;
        for (RecomputePolicy p : List.of(RecomputePolicy.auto(new ByteSize(between)), RecomputePolicy.autoGreedy(new ByteSize(between)))) {
            MemoryReport auto = report(StepPasses.FUSED.withRecompute(p));
            assertTrue(auto.plannedPeakBytes() <= between, p + ": " + auto.plannedPeakBytes() + " > budget " + between);
            assertTrue(auto.recomputeFlops() > none.recomputeFlops() && auto.recomputeFlops() <= stages.recomputeFlops(),
                    p + " recomputes something, at most what stages does: " + auto.recomputeFlops() + " vs " + stages.recomputeFlops());
            MemoryReport roomy = report(StepPasses.FUSED.withRecompute(p.withBudget(new ByteSize(none.plannedPeakBytes()))));
            assertEquals(none.recomputeFlops(), roomy.recomputeFlops(), p + ": nothing to recompute when none fits");
        }
        assertTrue(report(StepPasses.FUSED.withRecompute(RecomputePolicy.auto(new ByteSize(between)))).recomputeFlops()
                <= report(StepPasses.FUSED.withRecompute(RecomputePolicy.autoGreedy(new ByteSize(between)))).recomputeFlops(),
                "the optimum never costs more than greedy");

        ByteSize tiny = new ByteSize(stages.plannedPeakBytes() - 1);
        BudgetException e = assertThrows(BudgetException.class,
                () -> step(StepPasses.FUSED.withRecompute(RecomputePolicy.autoGreedy(tiny))));
        assertEquals(stages.plannedPeakBytes(), e.neededBytes(), "the most auto-greedy does is stages");
        assertTrue(e.getMessage().contains("auto-greedy:" + tiny) && e.getMessage().contains("even recomputing every stage")
                && e.getMessage().contains("lower the batch"), e.getMessage());
        ByteSize least = new ByteSize(Math.min(stages.plannedPeakBytes(), sqrt.plannedPeakBytes()) - 1);
        BudgetException o = assertThrows(BudgetException.class,
                () -> step(StepPasses.FUSED.withRecompute(RecomputePolicy.auto(least))));
        assertEquals(least.bytes() + 1, o.neededBytes(), "the most auto does is the lower of stages and sqrt");
        assertTrue(o.getMessage().startsWith("auto:" + least), o.getMessage());
    }

    @Test
    void sqrtCutsWhereTheFewestBytesCross() {
        long[] cross = new long[100];
        java.util.Arrays.fill(cross, 50);
        cross[12] = 1;   // near the first ideal cut (position 9, window ±2 with 10 segments): out of reach
        cross[10] = 2;   // in reach
        int[] cuts = Segments.sqrtCuts(cross);
        assertEquals(9, cuts.length, "about sqrt(100) = 10 segments");
        assertEquals(10, cuts[0]);
        assertEquals(19, cuts[1], "ties go to the ideal place");
    }
}
