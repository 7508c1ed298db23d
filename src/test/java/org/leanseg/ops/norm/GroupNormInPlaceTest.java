package org.leanseg.ops.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.leanseg.autograd.Autograd;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.InPlaceGuardException;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.Rebuild;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.Planner;
import org.leanseg.nn.ParamSet;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.Vjp;

/**
 * In-place GN (backward from its output, Note [In-place GN backward]): finite-difference gradients,
 * agreement with stock GroupNorm, and the step rewrites on a small traced network with GN (no model
 * uses GN yet): in-place GN, ReLU·depthwise fusion and the GN after a depthwise conv replayed in
 * backward train exactly as the plain step; γ = 0 is refused and trains with that layer stock.
 */
class GroupNormInPlaceTest {
    /** 1·x before and after make x and dY activations, so the executor really runs GN and its backward in place. */
    private static GradCheck.Traced gnInPlace(int groups) {
        return (g, in) -> {
            Value x = g.apply1(new Scale(1f), in.get(0));
            Value y = g.apply(new GroupNorm(groups, 1e-5, true), x, in.get(1), in.get(2)).get(0);
            return List.of(g.apply1(new Scale(1f), y));
        };
    }

    @Test
    void gradients() {
        Random rnd = new Random(31);
        // {N, C, groups, H, W}; the last is large enough for the kernels to split work over threads
        int[][] cases = {{2, 6, 3, 5, 3}, {3, 4, 1, 3, 1}, {1, 5, 5, 2, 3}, {4, 32, 16, 16, 16}};
        for (int[] k : cases) {
            Shape s = Shape.of(k[0], k[1], k[3], k[4]);
            new GradCheck().tolerance(3e-3).maxPerInput(s.numel() > 1000 ? 30 : 200).input(Tensor.uniform(s, -1, 1, rnd))
                    .input(Tensor.uniform(Shape.of(k[1]), 0.5, 1.5, rnd)).input(Tensor.uniform(Shape.of(k[1]), -0.5, 0.5, rnd))
                    .check("group_norm_inplace groups=" + k[2] + " " + s, gnInPlace(k[2]));
        }
    }

    @Test
    void agreesWithStockGroupNorm() {
        Random rnd = new Random(32);
        Shape s = Shape.of(2, 8, 7, 5);
        // negative gamma too: the inversion divides by it
        Tensor[] t = {Tensor.uniform(s, -1, 1, rnd), Tensor.uniform(Shape.of(8), -1.5, 1.5, rnd), Tensor.uniform(Shape.of(8), -0.5, 0.5, rnd)};
        for (int i = 0; i < 8; i++) {
            if (Math.abs(t[1].data()[i]) < 0.2f) {
                t[1].data()[i] = 0.3f; // outside the γ guard
            }
        }
        List<Tensor> inPlace = Vjp.run(gnInPlace(4), 9, t);
        List<Tensor> stock = Vjp.run((g, in) -> List.of(g.apply1(new Scale(1f), g.apply(new GroupNorm(4, 1e-5),
                g.apply1(new Scale(1f), in.get(0)), in.get(1), in.get(2)).get(0))), 9, t);
        String[] what = {"y", "dX", "dGamma", "dBeta"};
        for (int i = 0; i < 4; i++) {
            double d = Vjp.relDiff(inPlace.get(i), stock.get(i));
            assertTrue(d < 2e-5, what[i] + " differs by " + d);
        }
    }

    /** conv 3x3 → GN → ReLU → depthwise 3x3 → GN → ReLU → conv 1x1 → cross-entropy, with its parameters. */
    private static final class Net {
        final ParamSet ps = new ParamSet();
        final Variable conv = ps.parameter("conv.weight", ParamSet.Init.KAIMING_FAN_IN, true, 8, 3, 3, 3);
        final Variable gn1Gamma = ps.parameter("gn1.weight", ParamSet.Init.ONES, false, 8);
        final Variable gn1Beta = ps.parameter("gn1.bias", ParamSet.Init.ZEROS, false, 8);
        final Variable dw = ps.parameter("dw.weight", ParamSet.Init.KAIMING_FAN_IN, true, 8, 1, 3, 3);
        final Variable gn2Gamma = ps.parameter("gn2.weight", ParamSet.Init.ONES, false, 8);
        final Variable gn2Beta = ps.parameter("gn2.bias", ParamSet.Init.ZEROS, false, 8);
        final Variable head = ps.parameter("head.weight", ParamSet.Init.KAIMING_FAN_IN, true, 4, 8, 1, 1);

        Value forward(Graph g, Value x, Value label) {
            Value h = g.apply1(Conv2d.of(1, 1, 1, 1), x, g.variable(conv));
            h = g.apply1(Activation.relu(), g.apply(new GroupNorm(4, 1e-5), h, g.variable(gn1Gamma), g.variable(gn1Beta)).get(0));
            h = g.apply1(Conv2d.of(1, 1, 1, 8), h, g.variable(dw));
            h = g.apply1(Activation.relu(), g.apply(new GroupNorm(2, 1e-5), h, g.variable(gn2Gamma), g.variable(gn2Beta)).get(0));
            return g.apply1(SoftmaxCrossEntropy.of(255), g.apply1(Conv2d.of(1, 0, 1, 1), h, g.variable(head)), label);
        }

        VariableStore init() {
            VariableStore store = new VariableStore();
            ps.initialize(store, 5);
            Random rnd = new Random(6);
            for (Variable v : List.of(gn1Gamma, gn2Gamma)) {
                store.set(v, Tensor.uniform(v.spec().shape(), 0.5, 1.5, rnd));
            }
            for (Variable v : List.of(gn1Beta, gn2Beta)) {
                store.set(v, Tensor.uniform(v.spec().shape(), -0.5, 0.5, rnd));
            }
            return store;
        }
    }

    /** One training step's graph under {@code passes}: loss then every parameter's gradient, in that order. */
    private record Step(Graph graph, Value image, Value label, List<Value> outputs) {
        static Step of(Net net, StepPasses passes) {
            Graph g = new Graph();
            Value x = g.input("image", TensorSpec.f32(2, 3, 12, 12));
            Value label = g.input("label", TensorSpec.i32(2, 12, 12));
            Value loss = net.forward(g, x, label);
            g.markOutput(loss);
            Rebuild.Result fused = passes.beforeAutograd(g);
            if (fused != null) {
                g = fused.graph();
                x = fused.get(x);
                label = fused.get(label);
                loss = fused.get(loss);
            }
            List<Value> params = new ArrayList<>();
            for (Variable p : net.ps.parameters()) {
                params.add(g.variable(p));
            }
            Map<Value, Value> grads = Autograd.gradients(g, loss, params);
            List<Value> outs = new ArrayList<>(List.of(loss));
            for (Value p : params) {
                outs.add(grads.get(p));
                g.markOutput(grads.get(p));
            }
            Rebuild.Result recomputed = passes.afterAutograd(g);
            if (recomputed != null) {
                g = recomputed.graph();
                x = recomputed.get(x);
                label = recomputed.get(label);
                outs.replaceAll(recomputed::get);
            }
            return new Step(g, x, label, outs);
        }

        Map<String, Tensor> run(VariableStore store) {
            Random rnd = new Random(7);
            int[] labels = new int[2 * 12 * 12];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = rnd.nextInt(8) == 0 ? 255 : rnd.nextInt(4);
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Executor e = new Executor(graph, new ReferenceBackend(), store)) {
                e.run(Map.of(image, Tensor.uniform(Shape.of(2, 3, 12, 12), -1, 1, rnd), label, Tensor.labels(Shape.of(2, 12, 12), labels)));
                for (int i = 0; i < outputs.size(); i++) {
                    out.put(i == 0 ? "loss" : "d" + i, e.read(outputs.get(i)));
                }
            }
            return out;
        }
    }

    private static void assertSameStep(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        expected.forEach((k, v) -> {
            double d = Vjp.relDiff(actual.get(k), v);
            assertTrue(d < 1e-5, k + " differs by " + d);
        });
    }

    @Test
    void rewrittenStepWithGroupNormTrainsAsThePlainOne() {
        Net net = new Net();
        Step fused = Step.of(net, StepPasses.FUSED);
        List<Node> nodes = fused.graph().nodes();
        assertEquals(2, nodes.stream().filter(n -> inPlace(n) && n.phase() == Phase.FORWARD).count());
        assertEquals(0, nodes.stream().filter(n -> n.op() instanceof GroupNorm gn && !gn.inPlace()).count());
        assertEquals(2, nodes.stream().filter(n -> n.op() instanceof GroupNormBackward b && b.source() == GroupNormBackward.Source.Y).count());
        assertEquals(1, nodes.stream().filter(n -> n.op() instanceof ActConv2d a && a.depthwise() && n.phase() == Phase.FORWARD).count(),
                "GN → ReLU → depthwise fuses the ReLU");
        // recompute through GN: the GN after the depthwise conv together with that conv
        assertTrue(nodes.stream().anyMatch(n -> n.phase() == Phase.RECOMPUTE && inPlace(n)));
        assertTrue(nodes.stream().anyMatch(n -> n.phase() == Phase.RECOMPUTE && n.op() instanceof ActConv2d));
        // the ReLU after the second GN goes into the head's 1x1 conv (Note [Activation into a dense convolution])
        assertTrue(nodes.stream().anyMatch(n -> n.phase() == Phase.FORWARD && n.op() instanceof ActConv2d a && !a.depthwise()));
        assertTrue(Step.of(net, StepPasses.FUSED.withNativeOnly(false)).graph().nodes().stream()
                .anyMatch(n -> n.phase() == Phase.RECOMPUTE && n.op() instanceof Activation), "without it, that ReLU is recomputed");
        // the planner gives y the buffer of x, and dX the buffer of dY
        MemoryPlan plan = Planner.plan(fused.graph(), DeadCode.schedule(fused.graph()));
        for (Node n : nodes) {
            if (inPlace(n) && n.phase() == Phase.FORWARD || n.op() instanceof GroupNormBackward b && b.source() == GroupNormBackward.Source.Y) {
                assertTrue(plan.aliases().containsKey(n.output(0)), n + " runs in place");
            }
        }
        assertSameStep(Step.of(net, StepPasses.NONE).run(net.init()), fused.run(net.init()));
    }

    /** γ_5 = 0 and β_5 = 0.5 in the first GN layer. */
    private static VariableStore zeroGamma(Net net, VariableStore store) {
        store.get(net.gn1Gamma).data()[5] = 0f;
        store.get(net.gn1Beta).data()[5] = 0.5f;
        return store;
    }

    @Test
    void zeroGammaIsRefusedThenTrainedWithThatLayerStock() {
        Net net = new Net();
        VariableStore store = zeroGamma(net, net.init());
        InPlaceGuardException e = assertThrows(InPlaceGuardException.class, () -> Step.of(net, StepPasses.FUSED).run(store));
        assertEquals(Set.of(net.gn1Gamma), e.gammas());
        assertTrue(e.getMessage().contains("gn1.weight") && e.getMessage().contains("channel 5"), e.getMessage());

        Step fallback = Step.of(net, StepPasses.FUSED.withStockBatchNorm(e.gammas()));
        assertEquals(1, fallback.graph().nodes().stream().filter(n -> n.op() instanceof GroupNorm gn && !gn.inPlace()).count());
        Map<String, Tensor> plain = Step.of(net, StepPasses.NONE).run(zeroGamma(net, net.init()));
        assertSameStep(plain, fallback.run(zeroGamma(net, net.init())));
        // dγ of the zero channel (β = 0.5 keeps it inside ReLU's linear range) needs x̂, which only the stored input gives
        assertTrue(Math.abs(plain.get("d2").data()[5]) > 0);
    }

    private static boolean inPlace(Node n) {
        return n.op() instanceof GroupNorm gn && gn.inPlace();
    }
}
