package org.leanseg.ops.conv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
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
import org.leanseg.ops.Op;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;

/**
 * Conv2d and its backward ops against {@link NaiveConv} (double precision, seven loops) on the GEMM,
 * 1x1 and depthwise paths, finite-difference gradient checks, and argument errors.
 * Run: {@code mvn -B -q test -Dtest=Conv2dTest}.
 */
class Conv2dTest {
    /** One convolution case: attributes, x [n, cin, h, w], weight [cout, cin/g, kh, kw], bias or not. */
    record Case(String what, Conv2d op, Shape x, Shape w, boolean bias) {
        static Case of(String what, Conv2d op, int n, int cin, int h, int w, int cout, int kh, int kw, boolean bias) {
            return new Case(what, op, Shape.of(n, cin, h, w), Shape.of(cout, cin / op.groups(), kh, kw), bias);
        }
    }

    static List<Case> accuracyCases() {
        return List.of(
                Case.of("3x3 gemm, odd sizes", Conv2d.of(1, 1, 1, 1), 2, 5, 13, 11, 7, 3, 3, true),
                Case.of("3x3, K > 2*KC with a remainder", Conv2d.of(1, 1, 1, 1), 1, 31, 9, 10, 9, 3, 3, false),
                Case.of("1x1 pointwise, M > MC, N > NC", Conv2d.of(1, 0, 1, 1), 2, 130, 17, 19, 70, 1, 1, true),
                Case.of("1x1 stride 2 (im2col path)", Conv2d.of(2, 0, 1, 1), 2, 12, 9, 8, 6, 1, 1, false),
                Case.of("stride 2 dilation 2", Conv2d.of(2, 2, 2, 1), 2, 6, 15, 14, 5, 3, 3, true),
                Case.of("dilation 4 padding 4", Conv2d.of(1, 4, 4, 1), 1, 4, 12, 13, 3, 3, 3, false),
                Case.of("grouped 2", Conv2d.of(1, 1, 1, 2), 2, 6, 8, 9, 4, 3, 3, true),
                Case.of("grouped 3, 1x1", Conv2d.of(1, 0, 1, 3), 2, 9, 7, 5, 6, 1, 1, false),
                Case.of("depthwise 3x3 s1", Conv2d.of(1, 1, 1, 8), 2, 8, 10, 9, 8, 3, 3, true),
                Case.of("depthwise 3x3 s2 d1", Conv2d.of(2, 1, 1, 5), 2, 5, 11, 12, 5, 3, 3, false),
                Case.of("depthwise s2 d4 multiplier 2", Conv2d.of(2, 4, 4, 3), 1, 3, 13, 14, 6, 3, 3, true),
                Case.of("depthwise d6 p6", Conv2d.of(1, 6, 6, 4), 1, 4, 9, 10, 4, 3, 3, false),
                new Case("rectangular 3x5, mixed strides", new Conv2d(2, 1, 1, 2, 1, 2, 1), Shape.of(2, 3, 10, 11),
                        Shape.of(4, 3, 3, 5), true),
                new Case("depthwise 5x3 asymmetric", new Conv2d(1, 2, 2, 1, 1, 1, 4), Shape.of(1, 4, 8, 9),
                        Shape.of(4, 1, 5, 3), false),
                Case.of("3x3 images batched 3+2 per GEMM", Conv2d.of(1, 1, 1, 1), 5, 6, 18, 18, 7, 3, 3, true),
                Case.of("1x1 images batched 2+2+2+1", Conv2d.of(1, 0, 1, 1), 7, 9, 20, 20, 5, 1, 1, true),
                Case.of("grouped 2, stride 2, images batched", Conv2d.of(2, 1, 1, 2), 5, 4, 9, 9, 6, 3, 3, false),
                Case.of("dilation 6 on a 3x3 map: only the centre tap is live", Conv2d.of(1, 6, 6, 1), 3, 5, 3, 3, 4, 3, 3, true),
                Case.of("dilation 2 on a 3x2 map: 3 of 9 taps live", Conv2d.of(1, 2, 2, 1), 2, 4, 3, 2, 5, 3, 3, false),
                Case.of("depthwise small plane 4x4 (direct loops)", Conv2d.of(1, 1, 1, 6), 3, 6, 4, 4, 6, 3, 3, true),
                Case.of("depthwise small plane s2 to 2x2, multiplier 2", Conv2d.of(2, 1, 1, 4), 2, 4, 4, 3, 8, 3, 3, false),
                Case.of("depthwise small plane dilation 2 on 3x3", Conv2d.of(1, 2, 2, 5), 2, 5, 3, 3, 5, 3, 3, true));
    }

    /**
     * Small output planes run several images per GEMM: forward and backward data must give the same
     * bits as one image at a time (same additions in the same order), backward filter the same
     * values within rounding.
     */
    @Test
    void imagesBatchedPerGemmEqualOneImageAtATime() {
        Random rnd = new Random(3);
        for (Case c : List.of(Case.of("3x3", Conv2d.of(1, 1, 1, 1), 6, 5, 12, 11, 7, 3, 3, true),
                Case.of("1x1", Conv2d.of(1, 0, 1, 1), 6, 9, 6, 5, 11, 1, 1, true))) {
            int n = c.x().dim(0);
            Tensor x = Tensor.uniform(c.x(), -1, 1, rnd);
            Tensor w = Tensor.uniform(c.w(), -1, 1, rnd);
            Tensor b = Tensor.uniform(Shape.of(c.w().dim(0)), -1, 1, rnd);
            Tensor y = run(c.op(), List.of(x, w, b));
            Tensor dy = Tensor.uniform(y.shape(), -1, 1, rnd);
            Tensor dx = run(new Conv2dBackwardData(c.op(), c.x().dim(2), c.x().dim(3)), List.of(dy, w));
            Tensor dw = run(new Conv2dBackwardFilter(c.op(), c.w().dim(2), c.w().dim(3)), List.of(x, dy));
            float[] dwSum = new float[dw.data().length];
            for (int i = 0; i < n; i++) {
                Tensor xi = slice(x, i, n);
                Tensor dyi = slice(dy, i, n);
                assertArrayEquals(slice(y, i, n).data(), run(c.op(), List.of(xi, w, b)).data(), c.what() + " y image " + i);
                assertArrayEquals(slice(dx, i, n).data(), run(new Conv2dBackwardData(c.op(), c.x().dim(2), c.x().dim(3)),
                        List.of(dyi, w)).data(), c.what() + " dX image " + i);
                float[] dwi = run(new Conv2dBackwardFilter(c.op(), c.w().dim(2), c.w().dim(3)), List.of(xi, dyi)).data();
                for (int j = 0; j < dwSum.length; j++) {
                    dwSum[j] += dwi[j];
                }
            }
            for (int j = 0; j < dwSum.length; j++) {
                assertEquals(dwSum[j], dw.data()[j], 1e-5 * (1 + Math.abs(dwSum[j])), c.what() + " dW[" + j + "]");
            }
        }
    }

    private static Tensor slice(Tensor t, int i, int n) {
        int per = t.data().length / n;
        int[] dims = t.shape().dims().clone();
        dims[0] = 1;
        return new Tensor(new TensorSpec(Shape.of(dims), t.spec().dtype()), java.util.Arrays.copyOfRange(t.data(), i * per, (i + 1) * per));
    }

    /** Forward, backward data, backward filter and bias grad against the double-precision oracle. */
    @Test
    void forwardAndBackwardMatchNaiveDouble() {
        Random rnd = new Random(11);
        for (Case c : accuracyCases()) {
            Tensor x = Tensor.uniform(c.x(), -1, 1, rnd);
            Tensor w = Tensor.uniform(c.w(), -1, 1, rnd);
            Tensor b = c.bias() ? Tensor.uniform(Shape.of(c.w().dim(0)), -1, 1, rnd) : null;
            Shape ys = c.op().infer(specs(x, w, b)).get(0).shape();
            Tensor dy = Tensor.uniform(ys, -1, 1, rnd);
            NaiveConv ref = new NaiveConv(c.op(), c.x(), x.data(), c.w(), w.data(), b == null ? null : b.data(), ys, dy.data());

            Tensor y = run(c.op(), b == null ? List.of(x, w) : List.of(x, w, b));
            for (int i = 0; i < ref.y.length; i++) {
                double err = Math.abs(y.data()[i] - ref.y[i]);
                assertTrue(err <= 1e-5 * ref.yAbs[i] + 1e-7, c.what() + ": y[" + i + "] = " + y.data()[i] + ", expected " + ref.y[i]);
            }
            Tensor dx = run(new Conv2dBackwardData(c.op(), c.x().dim(2), c.x().dim(3)), List.of(dy, w));
            assertClose(c.what() + " dX", ref.dx, dx.data());
            Tensor dw = run(new Conv2dBackwardFilter(c.op(), c.w().dim(2), c.w().dim(3)), List.of(x, dy));
            assertClose(c.what() + " dW", ref.dw, dw.data());
            assertClose(c.what() + " dB", ref.db, run(new BiasGrad(), List.of(dy)).data());
        }
    }

    /** GradCheck drives Conv2d.backward through autograd; elements are sampled to keep it fast. */
    @Test
    void finiteDifferenceGradients() {
        Random rnd = new Random(5);
        List<Case> cases = List.of(
                Case.of("gemm 3x3 odd", Conv2d.of(1, 1, 1, 1), 2, 3, 7, 6, 4, 3, 3, true),
                Case.of("stride 2", Conv2d.of(2, 1, 1, 1), 1, 3, 9, 8, 2, 3, 3, false),
                Case.of("dilation 2", Conv2d.of(1, 2, 2, 1), 1, 2, 8, 7, 3, 3, 3, true),
                Case.of("dilation 4", Conv2d.of(1, 4, 4, 1), 1, 2, 9, 9, 2, 3, 3, false),
                Case.of("dilation 6", Conv2d.of(1, 6, 6, 1), 1, 2, 8, 9, 2, 3, 3, true),
                Case.of("dilation 2 on a 3x2 map (dead taps)", Conv2d.of(1, 2, 2, 1), 2, 3, 3, 2, 2, 3, 3, true),
                Case.of("groups 2", Conv2d.of(1, 1, 1, 2), 2, 4, 6, 5, 6, 3, 3, true),
                Case.of("1x1", Conv2d.of(1, 0, 1, 1), 2, 5, 4, 3, 3, 1, 1, true),
                Case.of("depthwise s1", Conv2d.of(1, 1, 1, 4), 2, 4, 7, 6, 4, 3, 3, true),
                Case.of("depthwise s2 d2", Conv2d.of(2, 2, 2, 3), 1, 3, 9, 10, 3, 3, 3, false),
                Case.of("depthwise d4 multiplier 2", Conv2d.of(1, 4, 4, 2), 1, 2, 7, 8, 4, 3, 3, true),
                Case.of("depthwise small plane s2 multiplier 2", Conv2d.of(2, 1, 1, 3), 2, 3, 5, 4, 6, 3, 3, true));
        for (Case c : cases) {
            GradCheck check = new GradCheck().maxPerInput(25)
                    .input(Tensor.uniform(c.x(), -1, 1, rnd))
                    .input(Tensor.uniform(c.w(), -1, 1, rnd));
            if (c.bias()) {
                check.input(Tensor.uniform(Shape.of(c.w().dim(0)), -1, 1, rnd));
            }
            double worst = check.check(c.what(), (g, in) -> List.of(g.apply1(c.op(), in.toArray(new Value[0]))));
            assertTrue(worst < 1e-2, c.what() + ": " + worst);
        }
    }

    @Test
    void badArgumentsNameOpStageAndShapes() {
        expectError(Conv2d.of(1, 1, 1, 1), "f32[2, 3, 8]", "x must be", TensorSpec.f32(2, 3, 8), TensorSpec.f32(4, 3, 3, 3));
        expectError(Conv2d.of(1, 1, 1, 2), "not divisible by groups 2", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 1, 3, 3));
        expectError(Conv2d.of(1, 1, 1, 2), "output channels 5", null, TensorSpec.f32(1, 4, 8, 8), TensorSpec.f32(5, 2, 3, 3));
        expectError(Conv2d.of(1, 1, 1, 1), "input channels per group", null, TensorSpec.f32(1, 4, 8, 8), TensorSpec.f32(5, 3, 3, 3));
        expectError(Conv2d.of(1, -1, 1, 1), "padding must be >= 0", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 3, 3, 3));
        expectError(Conv2d.of(0, 1, 1, 1), "stride must be >= 1", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 3, 3, 3));
        expectError(Conv2d.of(1, 1, 0, 1), "dilation must be >= 1", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 3, 3, 3));
        expectError(Conv2d.of(1, 0, 4, 1), "empty output", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 3, 3, 3));
        expectError(Conv2d.of(1, 1, 1, 1), "bias must be", null, TensorSpec.f32(1, 3, 8, 8), TensorSpec.f32(4, 3, 3, 3),
                TensorSpec.f32(3));
    }

    private static void expectError(Conv2d op, String fragment, String fragment2, TensorSpec... inputs) {
        Graph g = new Graph();
        Value[] in = new Value[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            in[i] = g.input("in" + i, inputs[i]);
        }
        GraphException e;
        try (var s = g.scope("backbone")) {
            try (var s2 = g.scope("layer1")) {
                e = assertThrows(GraphException.class, () -> g.apply1(op, in));
            }
        }
        String m = e.getMessage();
        assertTrue(m.startsWith("conv2d") && m.contains("backbone.layer1") && m.contains(fragment)
                && (fragment2 == null || m.contains(fragment2)), m);
        for (TensorSpec s : inputs) {
            assertTrue(m.contains(s.shape().toString()), "message should name shape " + s.shape() + ": " + m);
        }
    }

    @Test
    void shapeAndCost() {
        Conv2d op = Conv2d.of(2, 2, 2, 1);
        List<TensorSpec> in = List.of(TensorSpec.f32(2, 3, 17, 16), TensorSpec.f32(8, 3, 3, 3), TensorSpec.f32(8));
        assertEquals(TensorSpec.f32(2, 8, 9, 8), op.infer(in).get(0)); // (17+4-5)/2+1, (16+4-5)/2+1
        assertEquals(2L * (2 * 8 * 9 * 8) * (3 * 9) + 2 * 8 * 9 * 8, op.flops(in));
        assertEquals("conv2d", op.name());
    }

    /** Backward ops appended by autograd carry the forward attributes and sizes. */
    @Test
    void backwardAppendsItsOwnOps() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(1, 4, 9, 9));
        Value w = g.input("w", TensorSpec.f32(4, 2, 3, 3));
        Value b = g.input("b", TensorSpec.f32(4));
        Conv2d op = Conv2d.of(2, 1, 1, 2);
        Value y = g.apply1(op, x, w, b);
        var grads = org.leanseg.autograd.Autograd.vjp(g, Map.of(y, g.input("dy", y.spec())), List.of(x, w, b));
        assertEquals(new Conv2dBackwardData(op, 9, 9), grads.get(x).producer().op());
        assertEquals(new Conv2dBackwardFilter(op, 3, 3), grads.get(w).producer().op());
        assertEquals(new BiasGrad(), grads.get(b).producer().op());
        assertArrayEquals(new int[] {1, 4, 9, 9}, grads.get(x).spec().shape().dims());
    }

    static List<TensorSpec> specs(Tensor... ts) {
        List<TensorSpec> s = new ArrayList<>();
        for (Tensor t : ts) {
            if (t != null) {
                s.add(t.spec());
            }
        }
        return s;
    }

    /** Runs one op through a graph and the executor (the same path training uses). */
    static Tensor run(Op op, List<Tensor> inputs) {
        Graph g = new Graph();
        Map<Value, Tensor> feeds = new HashMap<>();
        Value[] in = new Value[inputs.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = g.input("in" + i, inputs.get(i).spec());
            feeds.put(in[i], inputs.get(i));
        }
        Value out = g.apply1(op, in);
        g.markOutput(out);
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(feeds);
            return ex.read(out);
        }
    }

    /** max |actual - expected| <= 1e-5 * max |expected| (sums in float of up to thousands of terms). */
    static void assertClose(String what, double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        double maxRef = 1e-6;
        double maxDiff = 0;
        int worst = 0;
        for (int i = 0; i < expected.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
            double d = Math.abs(expected[i] - actual[i]);
            if (d > maxDiff) {
                maxDiff = d;
                worst = i;
            }
        }
        assertTrue(maxDiff <= 1e-5 * maxRef, what + ": element " + worst + " is " + actual[worst] + ", expected "
                + expected[worst] + " (max |expected| " + maxRef + ")");
    }
}
