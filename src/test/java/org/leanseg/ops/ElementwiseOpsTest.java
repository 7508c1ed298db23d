package org.leanseg.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;

class ElementwiseOpsTest {
    /** Values kept away from the activation kinks at 0 and 6 so finite differences are smooth. */
    static Tensor awayFromKinks(Shape s, Random rnd) {
        Tensor t = Tensor.uniform(s, -8, 8, rnd);
        for (int i = 0; i < t.data().length; i++) {
            float v = t.data()[i];
            if (Math.abs(v) < 0.1f || Math.abs(v - 6) < 0.1f) {
                t.data()[i] = v + 0.3f;
            }
        }
        return t;
    }

    @Test
    void reluAndRelu6Forward() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(5));
        Value r = g.apply1(Activation.relu(), x);
        Value r6 = g.apply1(Activation.relu6(), x);
        g.markOutput(r);
        g.markOutput(r6);
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(Map.of(x, Tensor.of(Shape.of(5), -1f, 0f, 3f, 6f, 9f)));
            assertArrayEquals(new float[] {0, 0, 3, 6, 9}, ex.read(r).data());
            assertArrayEquals(new float[] {0, 0, 3, 6, 6}, ex.read(r6).data());
        }
    }

    /** The branch-free gate equals {@code passes(y) ? g : 0f} bit for bit, on the edge values and on random bits. */
    @Test
    void activationGateEqualsThePassTest() {
        float[] edges = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, 0.5f, 5.9999995f, 6f,
            Math.nextUp(6f), 7f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.NaN, Float.intBitsToFloat(0xffc00000), Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xff800001), -3f};
        float[] grads = {1.25f, -2f, -0f, Float.NaN, Float.POSITIVE_INFINITY};
        Random rnd = new Random(11);
        for (Activation.Kind k : Activation.Kind.values()) {
            for (int i = 0; i < edges.length + 100_000; i++) {
                float y = i < edges.length ? edges[i] : Float.intBitsToFloat(rnd.nextInt());
                for (float g : grads) {
                    float expected = k.passes(y) ? g : 0f;
                    float got = k.gate(y, g);
                    assertTrue(Float.floatToRawIntBits(expected) == Float.floatToRawIntBits(got),
                            k + " gate(" + y + " [0x" + Integer.toHexString(Float.floatToRawIntBits(y)) + "], " + g + ") = " + got
                                    + ", expected " + expected);
                }
            }
        }
    }

    @Test
    void gradients() {
        Random rnd = new Random(3);
        for (Shape s : List.of(Shape.of(7), Shape.of(2, 3, 5, 5))) {
            new GradCheck().input(awayFromKinks(s, rnd)).check("relu " + s, (g, in) -> List.of(g.apply1(Activation.relu(), in.get(0))));
            new GradCheck().input(awayFromKinks(s, rnd)).check("relu6 " + s, (g, in) -> List.of(g.apply1(Activation.relu6(), in.get(0))));
            new GradCheck().input(Tensor.uniform(s, -1, 1, rnd)).input(Tensor.uniform(s, -1, 1, rnd))
                    .input(Tensor.uniform(s, -1, 1, rnd))
                    .check("add3 " + s, (g, in) -> List.of(g.apply1(new Add(), in.toArray(new Value[0]))));
            new GradCheck().input(Tensor.uniform(s, -1, 1, rnd)).check("scale " + s, (g, in) -> List.of(g.apply1(new Scale(-2.5f), in.get(0))));
        }
    }

    @Test
    void valueUsedTwiceSumsGradients() {
        // y = relu(x) + x : gradient 2 where x > 0, 1 elsewhere
        new GradCheck().input(awayFromKinks(Shape.of(3, 4), new Random(5))).check("fanout", (g, in) -> {
            Value x = in.get(0);
            return List.of(g.apply1(new Add(), g.apply1(Activation.relu(), x), x));
        });
    }

    @Test
    void shapeMismatchNamesOpStageAndShapes() {
        Graph g = new Graph();
        Value a = g.input("a", TensorSpec.f32(2, 3));
        Value b = g.input("b", TensorSpec.f32(3, 2));
        GraphException e;
        try (var s = g.scope("decoder")) {
            e = assertThrows(GraphException.class, () -> g.apply1(new Add(), a, b));
        }
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("decoder")
                && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
    }
}
