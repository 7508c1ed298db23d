package org.leanseg.graph.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.autograd.Autograd;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Note [Convolution over a concat by parts]: the rewrite drops every concat that only a dense
 * convolution reads, its outputs and gradients equal the plain ones to float rounding, the split form
 * and the weight slice's backward pass finite differences.
 */
class ConvOverConcatPartsTest {
    private static final Conv2d CONV = Conv2d.of(1, 1, 1, 1);

    private static Tensor random(Random rnd, int... dims) {
        return Tensor.uniform(Shape.of(dims), -1, 1, rnd);
    }

    /** conv(concat(a, b, c), W, bias) and its vjp, plain or rewritten: outputs y, da, db, dc, dW, dbias. */
    private static List<Tensor> run(boolean split, List<Tensor> data, Tensor seed) {
        Graph g = new Graph();
        Value a = g.input("a", data.get(0).spec());
        Value b = g.input("b", data.get(1).spec());
        Value c = g.input("c", data.get(2).spec());
        Value w = g.input("w", data.get(3).spec());
        Value bias = g.input("bias", data.get(4).spec());
        Value y = g.apply1(CONV, g.apply1(new Concat(), a, b, c), w, bias);
        g.markOutput(y);
        List<Value> ins = List.of(a, b, c, w, bias);
        if (split) {
            Rebuild.Result r = ConvOverConcatParts.apply(g);
            for (Node n : r.graph().nodes()) {
                assertFalse(n.op() instanceof Concat, "the concat is gone: " + n);
            }
            assertEquals(3, r.graph().nodes().stream().filter(n -> n.op() instanceof Conv2d).count(), "one convolution per part");
            g = r.graph();
            y = r.get(y);
            ins = ins.stream().map(r::get).toList();
        }
        Value dy = g.input("dy", y.spec());
        Map<Value, Value> grads = Autograd.vjp(g, Map.of(y, dy), ins);
        List<Value> outs = new java.util.ArrayList<>(List.of(y));
        for (Value v : ins) {
            outs.add(grads.get(v));
        }
        outs.forEach(g::markOutput);
        Map<Value, Tensor> feeds = new HashMap<>();
        for (int i = 0; i < ins.size(); i++) {
            feeds.put(ins.get(i), data.get(i).copy());
        }
        feeds.put(dy, seed);
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(feeds);
            return outs.stream().map(ex::read).toList();
        }
    }

    @Test
    void outputsAndGradientsEqualThePlainConvolution() {
        Random rnd = new Random(11);
        List<Tensor> data = List.of(random(rnd, 2, 3, 7, 6), random(rnd, 2, 5, 7, 6), random(rnd, 2, 2, 7, 6),
                random(rnd, 4, 10, 3, 3), random(rnd, 4));
        Tensor seed = random(rnd, 2, 4, 7, 6);
        List<Tensor> plain = run(false, data, seed);
        List<Tensor> split = run(true, data, seed);
        String[] names = {"y", "da", "db", "dc", "dW", "dbias"};
        for (int k = 0; k < names.length; k++) {
            float[] p = plain.get(k).data();
            float[] s = split.get(k).data();
            assertEquals(p.length, s.length, names[k]);
            double max = 1e-6;
            double diff = 0;
            for (int i = 0; i < p.length; i++) {
                max = Math.max(max, Math.abs(p[i]));
                diff = Math.max(diff, Math.abs(p[i] - s[i]));
            }
            // float sums of up to 90 products in another order
            assertTrue(diff <= 1e-5 * max, names[k] + ": max difference " + diff + " (max " + max + ")");
        }
    }

    @Test
    void theSplitFormAndTheWeightSlicePassFiniteDifferences() {
        Random rnd = new Random(3);
        double worst = new GradCheck().input(random(rnd, 1, 2, 5, 5)).input(random(rnd, 1, 3, 5, 5)).input(random(rnd, 3, 5, 3, 3))
                .check("conv by parts", (g, in) -> {
                    Value wa = g.apply1(new ChannelSlice(0, 2), in.get(2));
                    Value wb = g.apply1(new ChannelSlice(2, 3), in.get(2));
                    return List.of(g.apply1(new Add(), g.apply1(CONV, in.get(0), wa), g.apply1(CONV, in.get(1), wb)));
                });
        assertTrue(worst < 2e-2, "worst relative difference " + worst);
        double slice = new GradCheck().input(random(rnd, 2, 6, 3, 2))
                .check("channel_slice", (g, in) -> List.of(g.apply1(new ChannelSlice(1, 3), in.get(0))));
        assertTrue(slice < 2e-2, "channel_slice: " + slice);
    }

    @Test
    void theFusedStepsHaveNoConcatBeforeAConvolution() {
        for (ModelConfig m : List.of(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withHead(new int[] {2, 3, 6}, 16, 8, 16)
                .withClasses(4), ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withClasses(4))) {
            Graph fused = new TrainGraph(new DeepLabV3Plus(m), 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED).stepGraph();
            // the only concats left put a weight part's gradient back in place (ChannelSlice's backward)
            assertTrue(fused.nodes().stream().noneMatch(n -> n.op() instanceof Concat && n.phase() != Phase.BACKWARD),
                    m + ": decoder and ASPP concats are gone");
            for (Node n : fused.nodes()) {
                if (n.op() instanceof Concat) {
                    assertTrue(n.output(0).users().stream().noneMatch(u -> u.op() instanceof Conv2d), n.toString());
                }
            }
            Graph plain = new TrainGraph(new DeepLabV3Plus(m), 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.NONE).stepGraph();
            assertEquals(2, plain.nodes().stream().filter(n -> n.op() instanceof Concat && n.phase() == Phase.FORWARD).count(),
                    m + ": ASPP and decoder concat unfused");
        }
    }
}
