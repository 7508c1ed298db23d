package org.leanseg.graph.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.StageGroups;
import org.leanseg.graph.Value;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Note [Late gradients] and Note [One replay per stage] on Xception-65 (width 0.25): the decoder's
 * low-level projection makes its data gradient right before block 1's backward reads it, training is
 * bit for bit the same with and without the move, and no recomputed copy of a cheap op is read by two
 * stage groups.
 */
class LateGradientsTest {
    private static final ModelConfig XCEPTION = ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withClasses(4)
            .withMiddleRepeats(2);
    private static final OptimizerSettings SGD = new OptimizerSettings(0.9, true, 1e-3, false, 0.5);

    private static TrainGraph graph(StepPasses passes) {
        return new TrainGraph(new DeepLabV3Plus(XCEPTION), 2, 32, 32, SGD, 1, passes);
    }

    /**
     * With the cpu step's passes the projection reads a ReLU's output and its data gradient moves; with
     * nativeOnly the ReLU is in the projection, and the data gradient moves with the activation backward
     * that gates it (a pair, Note [Late gradients]).
     */
    @Test
    void theLowLevelProjectionsDataGradientIsMadeWhereBlockOneReadsIt() {
        for (StepPasses passes : List.of(StepPasses.FUSED.withNativeOnly(false), StepPasses.FUSED)) {
            Graph g = graph(passes).stepGraph();
            List<Node> schedule = DeadCode.schedule(g);
            int checked = 0;
            for (int i = 0; i < schedule.size(); i++) {
                Node n = schedule.get(i);
                if (n.outputs().isEmpty()) {
                    continue;
                }
                boolean readInBackbone = n.output(0).users().stream().anyMatch(u -> StageGroups.group(u.stage()).startsWith("backbone"));
                boolean gradient = n.op() instanceof Conv2dBackwardData || n.op() instanceof ActivationBackward;
                if (gradient && n.stage().startsWith("decoder") && readInBackbone) {
                    int j = i + 1;
                    while (schedule.get(j).phase() == Phase.OPTIMIZER) {
                        j++; // its weight's update follows it (Note [Updates in backward])
                    }
                    Node next = schedule.get(j);
                    assertTrue(next.inputs().contains(n.output(0)), n + " runs right before its reader, not " + next);
                    if (n.op() instanceof ActivationBackward) {
                        int p = i - 1;
                        while (schedule.get(p).phase() == Phase.OPTIMIZER) {
                            p--; // the projection weight's update follows its data gradient, the weight's last reader
                        }
                        assertTrue(schedule.get(p).op() instanceof Conv2dBackwardData, "the pair moved together: " + schedule.get(p));
                    }
                    checked++;
                }
            }
            assertTrue(checked >= 1, "the low-level projection's data gradient was found (nativeOnly " + passes.nativeOnly() + ")");
        }
    }

    @Test
    void cheapReplaysServeOneStageGroup() {
        for (RecomputePolicy p : List.of(RecomputePolicy.none(), RecomputePolicy.stages())) {
            Graph g = graph(StepPasses.FUSED.withRecompute(p)).stepGraph();
            for (Node n : g.nodes()) {
                if (n.phase() != Phase.RECOMPUTE || n.op().cheapToReplay() != Op.Replay.CHEAP) {
                    continue;
                }
                Set<String> groups = new HashSet<>();
                for (Value o : n.outputs()) {
                    for (Node u : o.users()) {
                        if (u.phase() == Phase.BACKWARD) {
                            groups.add(StageGroups.group(u.stage()));
                        }
                    }
                }
                assertTrue(groups.size() <= 1, p + ": " + n + " is read by " + groups);
            }
        }
    }

    private record Run(List<Float> losses, Map<String, Tensor> variables) {
    }

    private static Run train(DeepLabV3Plus model, Graph g, TrainGraph handles, Rebuild.Result moved) {
        VariableStore store = new VariableStore();
        model.params().initialize(store, 5);
        Random rnd = new Random(23);
        Tensor x = Tensor.uniform(Shape.of(2, 3, 32, 32), -1, 1, rnd);
        int[] labels = new int[2 * 32 * 32];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(XCEPTION.numClasses());
        }
        Value image = moved == null ? handles.image() : moved.get(handles.image());
        Value label = moved == null ? handles.label() : moved.get(handles.label());
        Value lr = moved == null ? handles.lr() : moved.get(handles.lr());
        Value loss = moved == null ? handles.loss() : moved.get(handles.loss());
        List<Float> losses = new ArrayList<>();
        try (Executor e = new Executor(g, new ReferenceBackend(), store)) {
            for (int t = 1; t <= 3; t++) {
                e.run(Map.of(image, x, label, Tensor.labels(Shape.of(2, 32, 32), labels), lr, Tensor.of(Shape.of(SGD.hyperSize()),
                        SGD.hyper(0.05, t))));
                losses.add(e.read(loss).data()[0]);
            }
        }
        return new Run(losses, store.byName());
    }

    @Test
    void movingGradientsLateChangesNoBit() {
        DeepLabV3Plus model = new DeepLabV3Plus(XCEPTION);
        TrainGraph tg = new TrainGraph(model, 2, 32, 32, SGD, 1, StepPasses.FUSED.withUpdatesInBackward(false));
        Rebuild.Result late = LateGradients.apply(tg.stepGraph());
        List<Node> before = DeadCode.schedule(tg.stepGraph());
        List<Node> after = DeadCode.schedule(late.graph());
        assertEquals(before.size(), after.size(), "the same ops");
        boolean reordered = false;
        for (int i = 0; i < before.size(); i++) {
            reordered |= !before.get(i).op().equals(after.get(i).op());
        }
        assertTrue(reordered, "some op moved");
        Run plain = train(model, tg.stepGraph(), tg, null);
        Run moved = train(model, late.graph(), tg, late);
        assertTrue(plain.losses().get(2) < plain.losses().get(0), "makes progress: " + plain.losses());
        assertEquals(plain.losses(), moved.losses());
        plain.variables().forEach((k, v) -> assertArrayEquals(v.data(), moved.variables().get(k).data(), k));
    }
}
