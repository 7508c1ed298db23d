package org.leanseg.train;

import org.leanseg.ops.norm.BatchNorm;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Training under every recompute policy gives the losses, gradients, parameters and BN running
 * statistics of {@code none}, bit for bit (a recomputed op runs the same kernel on the same inputs,
 * and a recomputed BatchNorm replays its batch statistics without touching the running ones), over
 * two SGD steps of a tiny MobileNetV2 DeepLabV3+, fused and plain.
 */
class RecomputeTrainingTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4);
    private static final int N = 2;
    private static final int H = 32;
    private static final int W = 32;

    /** Losses per step, gradients of step 1, BN buffers after step 1, every model variable after step 2. */
    private record Run(List<Float> losses, Map<String, Tensor> gradients, Map<String, Tensor> buffersAfterStep1,
                       Map<String, Tensor> variables) {
    }

    private static Run train(StepPasses passes) {
        DeepLabV3Plus model = new DeepLabV3Plus(TINY);
        VariableStore store = new VariableStore();
        model.params().initialize(store, 3);
        TrainGraph tg = new TrainGraph(model, N, H, W, OptimizerSettings.pytorchDefault(), 1, passes);
        Graph g = tg.stepGraph();
        // fused, none already replays the BN layers after depthwise convs (Note [BN through a depthwise replay])
        assertEquals(passes.fuse() || !passes.recompute().toString().equals("none") ? 1 : 0,
                Math.min(1, g.nodes().stream().filter(n -> n.op() instanceof BatchNorm bn && bn.mode() == BatchNorm.Mode.REPLAY).count()), passes.toString());
        Map<String, Value> grads = new LinkedHashMap<>();
        for (Node n : g.nodes()) {
            if (n.phase() == Phase.OPTIMIZER && n.op() instanceof Sgd) {
                grads.put(n.input(0).variable().name(), n.input(1));
                g.markOutput(n.input(1));
            }
        }
        Random rnd = new Random(17);
        Tensor x = Tensor.uniform(Shape.of(N, 3, H, W), -1, 1, rnd);
        int[] labels = new int[N * H * W];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(TINY.numClasses());
        }
        Tensor label = Tensor.labels(Shape.of(N, H, W), labels);
        List<Float> losses = new ArrayList<>();
        Map<String, Tensor> firstGrads = new LinkedHashMap<>();
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        try (Executor e = new Executor(g, new ReferenceBackend(), store)) {
            for (int s = 0; s < 2; s++) {
                e.run(Map.of(tg.image(), x, tg.label(), label, tg.lr(), Tensor.of(Shape.of(1), 0.05f)));
                losses.add(e.read(tg.loss()).data()[0]);
                if (s == 0) {
                    grads.forEach((k, v) -> firstGrads.put(k, e.read(v)));
                    for (ParamSet.Entry en : model.params().entries()) {
                        if (en.variable().role() == Role.BUFFER) {
                            buffers.put(en.variable().name(), copy(store.get(en.variable())));
                        }
                    }
                }
            }
        }
        Map<String, Tensor> vars = new LinkedHashMap<>();
        for (ParamSet.Entry en : model.params().entries()) {
            vars.put(en.variable().name(), store.get(en.variable()));
        }
        return new Run(losses, firstGrads, buffers, vars);
    }

    private static Tensor copy(Tensor t) {
        return new Tensor(t.spec(), t.data().clone());
    }

    private static void assertIdentical(Run expected, Run actual, String what) {
        assertEquals(expected.losses(), actual.losses(), what + ": losses");
        assertEquals(expected.gradients().keySet(), actual.gradients().keySet(), what);
        expected.gradients().forEach((k, v) -> assertArrayEquals(v.data(), actual.gradients().get(k).data(), what + ": gradient of " + k));
        expected.buffersAfterStep1().forEach((k, v) -> assertArrayEquals(v.data(), actual.buffersAfterStep1().get(k).data(),
                what + ": " + k + " after one step (running statistics updated once)"));
        expected.variables().forEach((k, v) -> assertArrayEquals(v.data(), actual.variables().get(k).data(), what + ": " + k + " after two steps"));
    }

    /** A budget between the plans of none and stages, so auto must recompute some stages but not all. */
    private static RecomputePolicy autoBetween(StepPasses passes) {
        long none = peak(passes);
        long stages = peak(passes.withRecompute(RecomputePolicy.stages()));
        assertTrue(stages < none, stages + " vs " + none);
        return RecomputePolicy.auto(new ByteSize((none + stages) / 2));
    }

    private static long peak(StepPasses passes) {
        return StepBuilder.training(new DeepLabV3Plus(TINY), N, H, W).passes(passes).build().report().plannedPeakBytes();
    }

    @Test
    void everyPolicyTrainsExactlyAsNoneFused() {
        Run none = train(StepPasses.FUSED);
        assertTrue(none.losses().get(1) < none.losses().get(0), "training makes progress: " + none.losses());
        for (RecomputePolicy p : List.of(RecomputePolicy.stages(), RecomputePolicy.sqrt(), autoBetween(StepPasses.FUSED))) {
            assertIdentical(none, train(StepPasses.FUSED.withRecompute(p)), p + " fused");
        }
    }

    @Test
    void stagesTrainsExactlyAsNoneWithoutFusion() {
        Run none = train(StepPasses.NONE);
        assertIdentical(none, train(StepPasses.NONE.withRecompute(RecomputePolicy.stages())), "stages plain");
    }
}
