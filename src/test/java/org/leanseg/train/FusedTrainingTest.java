package org.leanseg.train;

import org.leanseg.ops.norm.BatchNorm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.InPlaceGuardException;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Training with and without the rewrites (in-place BN, fused ReLU·dwconv, in-place ops, cheap-op
 * recompute) gives the same losses, gradients, parameters and BN running statistics over a few
 * SGD steps of a tiny MobileNetV2 DeepLabV3+; and the γ = 0 case of Note [In-place BN backward].
 */
class FusedTrainingTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4);
    private static final int N = 4;
    private static final int H = 64;
    private static final int W = 64;

    /** Losses of each step, then every gradient of the first step and every variable after the last. */
    private record Run(List<Float> losses, Map<String, Tensor> gradients, Map<String, Tensor> variables) {
    }

    private static Run train(DeepLabV3Plus model, StepPasses passes, int steps, VariableStore store) {
        return train(model, passes, steps, store, N, H, W);
    }

    private static Run train(DeepLabV3Plus model, StepPasses passes, int steps, VariableStore store, int batch, int h, int w) {
        TrainGraph tg = new TrainGraph(model, batch, h, w, OptimizerSettings.pytorchDefault(), 1, passes);
        Graph g = tg.stepGraph();
        Map<String, Value> grads = new LinkedHashMap<>();
        for (Node n : g.nodes()) {
            if (n.phase() == Phase.OPTIMIZER && n.op() instanceof Sgd) {
                grads.put(n.input(0).variable().name(), n.input(1));
                g.markOutput(n.input(1));
            }
        }
        Random rnd = new Random(42);
        Tensor x = Tensor.uniform(Shape.of(batch, 3, h, w), -1, 1, rnd);
        int[] labels = new int[batch * h * w];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(model.config().numClasses());
        }
        Tensor label = Tensor.labels(Shape.of(batch, h, w), labels);
        List<Float> losses = new ArrayList<>();
        Map<String, Tensor> firstGrads = new LinkedHashMap<>();
        try (Executor e = new Executor(g, new ReferenceBackend(), store)) {
            for (int s = 0; s < steps; s++) {
                e.run(Map.of(tg.image(), x, tg.label(), label, tg.lr(), Tensor.of(Shape.of(1), 0.01f)));
                losses.add(e.read(tg.loss()).data()[0]);
                if (s == 0) {
                    grads.forEach((k, v) -> firstGrads.put(k, e.read(v)));
                }
            }
        }
        Map<String, Tensor> vars = new LinkedHashMap<>();
        for (ParamSet.Entry en : model.params().entries()) {
            vars.put(en.variable().name(), store.get(en.variable()));
        }
        return new Run(losses, firstGrads, vars);
    }

    private static VariableStore init(DeepLabV3Plus model) {
        VariableStore store = new VariableStore();
        model.params().initialize(store, 7);
        return store;
    }

    /** Largest |a - b| over max(max|b|, floor). */
    private static double relDiff(Tensor a, Tensor b, double floor) {
        double d = 0;
        double m = floor;
        for (int i = 0; i < a.data().length; i++) {
            d = Math.max(d, Math.abs(a.data()[i] - b.data()[i]));
            m = Math.max(m, Math.abs(b.data()[i]));
        }
        return d / m;
    }

    /** Losses and gradients within {@code tol}, parameters after the steps within {@code paramTol} (see below). */
    private static void assertSame(Run fused, Run plain, double tol, double paramTol) {
        for (int s = 0; s < plain.losses().size(); s++) {
            assertEquals(plain.losses().get(s), fused.losses().get(s), tol * Math.abs(plain.losses().get(s)), "loss of step " + s);
        }
        assertEquals(plain.gradients().keySet(), fused.gradients().keySet());
        plain.gradients().forEach((k, v) -> assertTrue(relDiff(fused.gradients().get(k), v, 1e-3) < tol,
                "gradient of " + k + " differs by " + relDiff(fused.gradients().get(k), v, 1e-3)));
        // Parameters after the steps: this tiny model amplifies float differences about 10x per step
        // (measured: a 1e-4 relative change of one stem weight moves the third loss by 1.4e-3), so
        // they are compared on the scale of one step's update (floor lr x 1 = 1e-2). Each caller's
        // paramTol is about 1.3-5x the largest spread measured for it (issue 12: 1.58e-2 for the
        // fused/plain run, whose gradients agree to 2.6e-5; 1.9e-4 and 5.7e-6 for the other two).
        plain.variables().forEach((k, v) -> assertTrue(relDiff(fused.variables().get(k), v, 1e-2) < paramTol,
                k + " after training differs by " + relDiff(fused.variables().get(k), v, 1e-2)));
    }

    @Test
    void fusedAndPlainTrainingAgree() {
        DeepLabV3Plus model = new DeepLabV3Plus(TINY);
        Graph fusedGraph = new TrainGraph(model, N, H, W, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED).stepGraph();
        assertTrue(fusedGraph.nodes().stream().anyMatch(n -> mode(n) == BatchNorm.Mode.TRAIN_IN_PLACE));
        assertTrue(fusedGraph.nodes().stream().anyMatch(n -> n.op() instanceof ActConv2d));
        assertTrue(fusedGraph.nodes().stream().anyMatch(n -> n.phase() == Phase.RECOMPUTE));
        Graph plainGraph = new TrainGraph(model, N, H, W, OptimizerSettings.pytorchDefault(), 1, StepPasses.NONE).stepGraph();
        assertFalse(plainGraph.nodes().stream().anyMatch(n -> mode(n) == BatchNorm.Mode.TRAIN_IN_PLACE || n.phase() == Phase.RECOMPUTE));

        Run plain = train(model, StepPasses.NONE, 3, init(model));
        Run fused = train(model, StepPasses.FUSED, 3, init(model));
        assertTrue(plain.losses().get(2) < plain.losses().get(0), "training makes progress: " + plain.losses());
        assertSame(fused, plain, 2e-3, 2e-2);
    }

    /**
     * Xception-65's separable convs (ReLU·depthwise fusion, in-place BN, residual adds and the BN after
     * each depthwise conv replayed in backward: Note [BN through a depthwise replay]) train as the plain
     * step does.
     */
    @Test
    void fusedAndPlainXceptionTrainingAgree() {
        DeepLabV3Plus model = new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withMiddleRepeats(2)
                .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4));
        Graph fused = new TrainGraph(model, 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED).stepGraph();
        assertTrue(fused.nodes().stream().anyMatch(n -> n.phase() == Phase.RECOMPUTE && mode(n) == BatchNorm.Mode.REPLAY));
        assertTrue(fused.nodes().stream().anyMatch(n -> n.op() instanceof ActConv2d));
        Run plain = train(model, StepPasses.NONE, 2, init(model), 2, 32, 32);
        Run fusedRun = train(model, StepPasses.FUSED, 2, init(model), 2, 32, 32);
        assertSame(fusedRun, plain, 2e-3, 1e-3);
    }

    /** γ_3 = 0 and β_3 = 0.5 in one expand BN layer. */
    private static VariableStore zeroGamma(VariableStore store, Variable gamma, Variable beta) {
        store.get(gamma).data()[3] = 0f;
        store.get(beta).data()[3] = 0.5f;
        return store;
    }

    @Test
    void zeroGammaIsRefusedThenTrainedWithThatLayerStock() {
        DeepLabV3Plus model = new DeepLabV3Plus(TINY);
        Variable gamma = model.params().get("backbone.features.2.conv.0.1.weight");
        Variable beta = model.params().get("backbone.features.2.conv.0.1.bias");
        VariableStore store = zeroGamma(init(model), gamma, beta);
        InPlaceGuardException e = assertThrows(InPlaceGuardException.class, () -> train(model, StepPasses.FUSED, 1, store));
        assertEquals(Set.of(gamma), e.gammas());
        assertTrue(e.getMessage().contains(gamma.name()) && e.getMessage().contains("channel 3"), e.getMessage());

        Run plain = train(model, StepPasses.NONE, 2, zeroGamma(init(model), gamma, beta));
        Run fallback = train(model, StepPasses.FUSED.withStockBatchNorm(e.gammas()), 2, zeroGamma(init(model), gamma, beta));
        // parameters within twice the plain step's own spread under a 1e-6 relative weight perturbation (Note
        // [Training-step spread]; measured 2026-12-07: ~1e-4 after two steps, as the fused step's rounding
        // moves them since the decoder's rewrites of issue 11), floor 3e-5 (the spread measured in issue 12)
        Run perturbed = train(model, StepPasses.NONE, 2, perturb(zeroGamma(init(model), gamma, beta), model));
        double spread = 0;
        for (String k : plain.variables().keySet()) {
            spread = Math.max(spread, relDiff(perturbed.variables().get(k), plain.variables().get(k), 1e-2));
        }
        assertSame(fallback, plain, 2e-3, Math.max(3e-5, 2 * spread));
        // dγ of the zero channel (β = 0.5 keeps it inside ReLU6's linear range) needs x̂, which only the stored input gives
        assertTrue(Math.abs(plain.gradients().get(gamma.name()).data()[3]) > 0);
    }

    /** Every parameter times 1 ± 1e-6 (random sign per element, fixed seed): float rounding of the weights. */
    private static VariableStore perturb(VariableStore store, DeepLabV3Plus model) {
        Random rnd = new Random(99);
        for (ParamSet.Entry en : model.params().entries()) {
            if (en.variable().role() == Role.PARAMETER) {
                float[] d = store.get(en.variable()).data();
                for (int i = 0; i < d.length; i++) {
                    d[i] *= (float) (1 + (rnd.nextBoolean() ? 1e-6 : -1e-6));
                }
            }
        }
        return store;
    }

    /** The BatchNorm mode of a node's op, or null when it is no BatchNorm. */
    private static BatchNorm.Mode mode(Node n) {
        return n.op() instanceof BatchNorm bn ? bn.mode() : null;
    }
}
