package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.SoftmaxCrossEntropyBackward;
import org.leanseg.ops.optim.AdamW;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.ShapeMath;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.OpRun;

/**
 * The CUDA kernels' arithmetic, compiled for the CPU ({@link HostMath}: the same __host__ __device__
 * functions of src/main/cuda/*.cuh, built by g++ during the Maven build), against the reference
 * backend's op kernels on random inputs: the fused ReLU/ReLU6·depthwise forward and filter gradient, softmax cross-entropy with
 * ignored pixels and class weights, bilinear taps and resize forward/backward, SGD and AdamW. Runs on
 * every CI machine with g++; skips with the reason where the library was not built.
 * Run: {@code mvn -B -q test -Dtest=HostKernelMathTest}.
 *
 * <p>Tolerance: relative to the reference's largest magnitude. {@link #EXACT} where both sides do the
 * same float/double operations in the same order (elementwise, resize, depthwise forward);
 * {@link #CLOSE} where the kernels reduce in another order or reuse float-rounded statistics.
 */
class HostKernelMathTest {
    private static final double EXACT = 0;
    private static final double CLOSE = 1e-6;
    private final Random rnd = new Random(20261129);

    @BeforeEach
    void needsLibrary() {
        Assumptions.assumeTrue(HostMath.available(), HostMath::unavailableReason);
    }

    private Tensor g(int... dims) {
        return Tensor.gaussian(Shape.of(dims), 1, rnd);
    }

    private Tensor u(double lo, double hi, int... dims) {
        return Tensor.uniform(Shape.of(dims), lo, hi, rnd);
    }

    private static float[] copy(Tensor t) {
        return t.data().clone();
    }

    private static void check(String what, float[] got, Tensor ref, double tol) {
        double e = GpuTests.relativeError(Tensor.of(ref.spec().shape(), got), ref, 1e-3);
        assertTrue(e <= tol, what + ": relative error " + e + " > " + tol);
    }

    private static OpRun.Result ref(Op op, Tensor... in) {
        Tensor[] copies = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            copies[i] = in[i].copy();
        }
        return OpRun.run(op, copies);
    }

    /** {N, C, mult, H, W, Hout, Wout, kh, kw, strides, pads, dilations} of a depthwise convolution. */
    private static int[] geometry(Conv2d conv, Tensor z, Tensor w, Shape y) {
        Shape zs = z.spec().shape();
        Shape ws = w.spec().shape();
        return new int[] {zs.dim(0), zs.dim(1), ws.dim(0) / zs.dim(1), zs.dim(2), zs.dim(3), y.dim(2), y.dim(3), ws.dim(2), ws.dim(3),
                conv.strideH(), conv.strideW(), conv.padH(), conv.padW(), conv.dilationH(), conv.dilationW()};
    }

    @Test
    void fusedActivationDepthwiseForwardAndFilterGradient() {
        record Case(Activation.Kind act, int n, int c, int mult, int h, int w, int k, int stride, int pad, int dil, boolean bias) {
        }
        List<Case> cases = List.of(
                new Case(Activation.Kind.RELU6, 2, 8, 1, 13, 11, 3, 1, 1, 1, true),
                new Case(Activation.Kind.RELU6, 2, 6, 1, 16, 15, 3, 2, 1, 1, false),
                new Case(Activation.Kind.RELU, 1, 5, 2, 15, 15, 3, 1, 2, 2, true),
                new Case(Activation.Kind.RELU, 2, 4, 1, 12, 9, 5, 2, 2, 1, false));
        for (Case k : cases) {
            String name = k.act() + " " + k.k() + "x" + k.k() + " s" + k.stride() + " p" + k.pad() + " d" + k.dil() + " x" + k.mult();
            Conv2d conv = Conv2d.of(k.stride(), k.pad(), k.dil(), k.c());
            ActConv2d op = new ActConv2d(k.act(), conv);
            Tensor z = u(-3, 9, k.n(), k.c(), k.h(), k.w());
            Tensor w = g(k.c() * k.mult(), 1, k.k(), k.k());
            Tensor bias = k.bias() ? g(k.c() * k.mult()) : null;
            OpRun.Result f = bias != null ? ref(op, z, w, bias) : ref(op, z, w);
            Shape ys = f.output(0).spec().shape();
            int[] geom = geometry(conv, z, w, ys);
            float[] y = new float[ys.size()];
            HostMath.actDepthwiseForward(z.data(), w.data(), bias == null ? null : bias.data(), geom, k.act().cap(), y);
            check("act_dw forward " + name, y, f.output(0), EXACT);

            Tensor dy = Tensor.gaussian(ys, 1, rnd);
            OpRun.Result b = ref(new ActConv2dBackwardFilter(k.act(), new Conv2dBackwardFilter(conv, k.k(), k.k())), z, dy);
            float[] dW = new float[w.data().length];
            HostMath.actDepthwiseBackwardFilter(z.data(), dy.data(), geom, k.act().cap(), dW);
            check("act_dw filter " + name, dW, b.output(0), CLOSE);
        }
    }

    private Tensor labels(int classes, int... dims) {
        int[] l = new int[Shape.of(dims).size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(8) == 0 ? 255 : rnd.nextInt(classes);
        }
        return Tensor.labels(Shape.of(dims), l);
    }

    @Test
    void softmaxCrossEntropyWithIgnoreAndWeights() {
        for (float[] weights : new float[][] {null, {0.5f, 2f, 1f, 0f, 3f}}) {
            Tensor z = Tensor.gaussian(Shape.of(2, 5, 9, 11), 3, rnd);
            Tensor label = labels(5, 2, 9, 11);
            float loss = ref(new SoftmaxCrossEntropy(255, weights), z, label).output(0).data()[0];
            Tensor dLoss = Tensor.of(Shape.of(1), 0.7f);
            OpRun.Result b = ref(new SoftmaxCrossEntropyBackward(255, weights), z, label, dLoss);
            float[] dz = new float[z.data().length];
            double got = HostMath.crossEntropy(z.data(), label.data(), 2, 5, 9 * 11, 255, weights, 0.7f, dz, 0);
            assertEquals(loss, got, 1e-6 * Math.abs(loss), "ce loss, weights " + (weights != null));
            check("ce dz, weights " + (weights != null), dz, b.output(0), CLOSE);
        }
        Tensor all = Tensor.labels(Shape.of(1, 1, 2), 255, 255);
        float[] dz = new float[3 * 2];
        assertEquals(0, HostMath.crossEntropy(new float[6], all.data(), 1, 3, 2, 255, null, 1f, dz, 0), "all pixels ignored");
        assertEquals(0, Tensor.of(Shape.of(6), dz).maxAbs(), "all pixels ignored: dz = 0");
        float[] bad = Tensor.labels(Shape.of(1, 1, 2), 1, 7).data();
        assertTrue(Double.isNaN(HostMath.crossEntropy(new float[6], bad, 1, 3, 2, 255, null, 1f, dz, 0)), "label 7 of 3 classes");
    }

    /** The same on bf16 and fp16 logits (Note [Mixed precision]) against the reference's 16-bit emulation. */
    @Test
    void softmaxCrossEntropyOn16BitLogits() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            Tensor z = BackendParity.rounded(Tensor.gaussian(Shape.of(2, 5, 9, 11), 3, rnd), t);
            Tensor label = labels(5, 2, 9, 11);
            float loss = BackendParity.reference(new SoftmaxCrossEntropy(255, null), z, label).get(0).data()[0];
            Tensor dzWant = BackendParity.reference(new SoftmaxCrossEntropyBackward(255, null), z, label, Tensor.of(Shape.of(1), 0.7f)).get(0);
            float[] dz = new float[z.data().length];
            double got = HostMath.crossEntropy(z.data(), label.data(), 2, 5, 9 * 11, 255, null, 0.7f, dz, t == org.leanseg.tensor.DType.BF16 ? 1 : 2);
            assertEquals(loss, got, 1e-6 * Math.abs(loss), t + " ce loss");
            BackendParity.assertClose(t + " ce dz", dz, dzWant, CLOSE);
        }
    }

    @Test
    void bilinearTapsMatchShapeMath() {
        for (int[] io : new int[][] {{9, 36}, {17, 5}, {7, 23}, {1, 4}, {4, 1}, {6, 19}, {13, 13}}) {
            for (boolean align : new boolean[] {false, true}) {
                int in = io[0];
                int out = io[1];
                float[] i0 = new float[out];
                float[] i1 = new float[out];
                double[] w0 = new double[out];
                double[] w1 = new double[out];
                HostMath.bilinearTaps(in, out, align, i0, i1, w0, w1);
                for (int i = 0; i < out; i++) {
                    // BilinearAxis.of, the reference kernels' taps
                    double src = ShapeMath.bilinearSource(i, in, out, align);
                    int lo = Math.min((int) Math.floor(src), in - 1);
                    String at = in + " -> " + out + (align ? " align" : "") + " at " + i;
                    assertEquals(lo, i0[i], at);
                    assertEquals(Math.min(lo + 1, in - 1), i1[i], at);
                    assertEquals(src - lo, w1[i], 0.0, at);
                    assertEquals(1 - (src - lo), w0[i], 0.0, at);
                }
            }
        }
    }

    @Test
    void resizeForwardAndBackward() {
        int[][] cases = {{9, 7, 36, 28, 0}, {17, 13, 5, 6, 0}, {6, 5, 19, 23, 1}, {7, 10, 23, 31, 0}, {1, 1, 3, 4, 0}, {5, 5, 5, 5, 1}};
        for (int[] c : cases) {
            boolean align = c[4] == 1;
            String name = c[0] + "x" + c[1] + " -> " + c[2] + "x" + c[3] + (align ? " align" : "");
            Tensor x = g(2, 3, c[0], c[1]);
            OpRun.Result f = ref(new Resize(c[2], c[3], align), x);
            float[] y = new float[f.output(0).data().length];
            HostMath.resize(false, x.data(), 6, c[0], c[1], c[2], c[3], align, y);
            check("resize " + name, y, f.output(0), EXACT);

            Tensor dy = g(2, 3, c[2], c[3]);
            OpRun.Result b = ref(new ResizeBackward(c[0], c[1], align), dy);
            float[] dx = new float[x.data().length];
            HostMath.resize(true, dy.data(), 6, c[0], c[1], c[2], c[3], align, dx);
            check("resize backward " + name, dx, b.output(0), CLOSE);
        }
    }

    @Test
    void sgdUpdates() {
        for (Sgd op : List.of(new Sgd(0.9f, false, 1e-4f, 1f, true), new Sgd(0.9f, true, 0f, 10f, false), new Sgd(0f, false, 5e-4f, 1f, true))) {
            Tensor p = g(300);
            Tensor grad = g(300);
            Tensor buf = g(300);
            Tensor lr = Tensor.of(Shape.of(1), 0.01f);
            OpRun.Result r = ref(op, p, grad, buf, lr);
            float[] pp = copy(p);
            float[] gg = copy(grad);
            float[] bb = copy(buf);
            HostMath.sgd(pp, gg, bb, 0.01f, op.lrScale(), op.momentum(), op.weightDecay(), op.nesterov(), op.zeroGrad());
            check("sgd param " + op, pp, r.input(0), EXACT);
            check("sgd grad " + op, gg, r.input(1), EXACT);
            check("sgd momentum " + op, bb, r.input(2), EXACT);
        }
    }

    @Test
    void adamwUpdates() {
        for (AdamW op : List.of(new AdamW(0.9f, 0.999f, 1e-8f, 0.01f, 1f, true), new AdamW(0.8f, 0.99f, 1e-6f, 0f, 10f, false))) {
            for (long t : new long[] {1, 7}) {
                Tensor p = g(500);
                Tensor grad = g(500);
                Tensor m = Tensor.gaussian(Shape.of(500), 0.1, rnd);
                Tensor v = u(0, 0.05, 500);
                Tensor hyper = Tensor.of(Shape.of(3), AdamW.hyper(1e-3, op.beta1(), op.beta2(), t));
                OpRun.Result r = ref(op, p, grad, m, v, hyper);
                float[] pp = copy(p);
                float[] gg = copy(grad);
                float[] mm = copy(m);
                float[] vv = copy(v);
                HostMath.adamw(pp, gg, mm, vv, hyper.data(), op.lrScale(), op.beta1(), op.beta2(), op.eps(), op.weightDecay(),
                        op.zeroGrad());
                String what = "adamw " + op + " step " + t;
                check(what + " param", pp, r.input(0), CLOSE);
                check(what + " grad", gg, r.input(1), EXACT);
                check(what + " m", mm, r.input(2), EXACT);
                check(what + " v", vv, r.input(3), EXACT);
            }
        }
    }

    /**
     * ls_convert_k (half.cuh) stores the same 16 bits as tensor.Half, the reference backend's rounding: every
     * bfloat16 and binary16 bit pattern round trips, and float32 values round to nearest-even, ties both ways,
     * overflow, subnormals, signed zeros, infinities and NaN payloads included, over every exponent.
     */
    @Test
    void sixteenBitConversionsMatchHalf() {
        java.util.List<Float> values = new java.util.ArrayList<>(List.of(0f, -0f, 1f, -1f, 65504f, 65519.99f, 65520f, -65520f, 1e-8f,
                -3e-8f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f, 6.103515e-5f, Float.MIN_VALUE, Float.MAX_VALUE,
                -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0x7f800001),
                Float.intBitsToFloat(0xffc00123), Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000),
                Float.intBitsToFloat(0x3f807fff), Float.intBitsToFloat(0x7f7f8000), 1.00048828125f, 1.00146484375f));
        for (int i = 0; i < 200_000; i++) {
            values.add(Float.intBitsToFloat(rnd.nextInt()));   // every exponent, NaNs and subnormals among them
        }
        float[] x = new float[values.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = values.get(i);
        }
        for (int type : new int[] {1, 2}) {
            short[] bits = new short[x.length];
            HostMath.toBits(x, type, bits);
            for (int i = 0; i < x.length; i++) {
                short want = type == 1 ? org.leanseg.tensor.Half.floatToBf16(x[i]) : org.leanseg.tensor.Half.floatToHalf(x[i]);
                if (bits[i] != want) {
                    throw new AssertionError(String.format("type %d: %s (0x%08x) stored as 0x%04x, Half gives 0x%04x", type, x[i],
                            Float.floatToRawIntBits(x[i]), bits[i] & 0xffff, want & 0xffff));
                }
            }
            short[] all = new short[1 << 16];
            for (int b = 0; b < all.length; b++) {
                all[b] = (short) b;
            }
            float[] back = new float[all.length];
            HostMath.fromBits(all, type, back);
            for (int b = 0; b < all.length; b++) {
                float want = type == 1 ? org.leanseg.tensor.Half.bf16ToFloat(b) : org.leanseg.tensor.Half.halfToFloat(b);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(back[b]), String.format("type %d bits 0x%04x", type, b));
            }
        }
    }

    /** ls_loss_scale_update_k's state update against LossScaleUpdate's reference over a run of clean and overflowing steps. */
    @Test
    void lossScaleStateUpdatesAsTheReference() {
        int growth = 3;
        org.leanseg.ops.optim.LossScaleUpdate op = new org.leanseg.ops.optim.LossScaleUpdate(growth);
        float[] state = {0, 0, 0};
        float[] host = state.clone();
        boolean[] found = {false, false, false, true, false, false, false, false, true, true, false, false, false};
        for (boolean f : found) {
            Tensor grad = Tensor.of(Shape.of(2), 1f, f ? Float.POSITIVE_INFINITY : 2f);
            OpRun.Result r = ref(op, Tensor.of(Shape.of(3), state.clone()), grad);
            state = r.input(0).data().clone();
            HostMath.lossScaleUpdate(host, f, growth, org.leanseg.ops.optim.LossScale.INITIAL_LOG2);
            assertEquals(java.util.Arrays.toString(state), java.util.Arrays.toString(host), "after a step with overflow " + f);
        }
        float[] top = {127 - org.leanseg.ops.optim.LossScale.INITIAL_LOG2, growth - 1, 0};   // at 2^127 the scale stops growing
        float[] topRef = ref(op, Tensor.of(Shape.of(3), top.clone()), Tensor.of(Shape.of(1), 1f)).input(0).data();
        HostMath.lossScaleUpdate(top, false, growth, org.leanseg.ops.optim.LossScale.INITIAL_LOG2);
        assertEquals(java.util.Arrays.toString(topRef), java.util.Arrays.toString(top));
    }

    /** A tensor of 16-bit type {@code t}, values rounded to it. */
    private Tensor g16(org.leanseg.tensor.DType t, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = t.round((float) (rnd.nextGaussian() * scale));
        }
        return new Tensor(new org.leanseg.tensor.TensorSpec(Shape.of(n), t), v);
    }

    private static short[] bits(org.leanseg.tensor.DType t, Tensor... ts) {
        int n = ts[0].data().length;
        short[] b = new short[n * ts.length];
        for (int j = 0; j < ts.length; j++) {
            for (int i = 0; i < n; i++) {
                float v = ts[j].data()[i];
                b[j * n + i] = t == org.leanseg.tensor.DType.F16 ? org.leanseg.tensor.Half.floatToHalf(v) : org.leanseg.tensor.Half.floatToBf16(v);
            }
        }
        return b;
    }

    /**
     * The typed elementwise kernels (Note [Mixed precision] on the GPU, elementwise.cuh) on bf16 and fp16 tensors equal
     * the reference's 16-bit emulation bit for bit: activations and their backward, add of 2 and 5 inputs (summed in
     * float and rounded once), scale, accumulate.
     */
    @Test
    void typedElementwiseKernelsEqualTheReferenceOn16BitData() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            int type = t == org.leanseg.tensor.DType.BF16 ? 1 : 2;
            int n = 4099;
            for (Activation.Kind kind : Activation.Kind.values()) {
                Tensor x = g16(t, n, 4);
                short[] out = new short[n];
                HostMath.elementwiseTyped(0, kind.cap(), 1, type, bits(t, x), out);
                sameBits(t + " " + kind, out, BackendParity.reference(new Activation(kind), x).get(0), t);
                Tensor y = BackendParity.reference(new Activation(kind), x).get(0);
                Tensor dy = g16(t, n, 1);
                HostMath.elementwiseTyped(1, kind.cap(), 2, type, bits(t, y, dy), out);
                sameBits(t + " " + kind + " backward", out, BackendParity.reference(new org.leanseg.ops.elementwise.ActivationBackward(kind), y, dy).get(0), t);
            }
            for (int k : new int[] {2, 5}) {
                Tensor[] xs = new Tensor[k];
                for (int j = 0; j < k; j++) {
                    xs[j] = g16(t, n, j + 1);
                }
                short[] out = new short[n];
                HostMath.elementwiseTyped(2, 0f, k, type, bits(t, xs), out);
                sameBits(t + " add of " + k, out, BackendParity.reference(new org.leanseg.ops.elementwise.Add(), xs).get(0), t);
            }
            Tensor x = g16(t, n, 3);
            short[] out = new short[n];
            HostMath.elementwiseTyped(3, -0.37f, 1, type, bits(t, x), out);
            sameBits(t + " scale", out, BackendParity.reference(new org.leanseg.ops.elementwise.Scale(-0.37f), x).get(0), t);
            Tensor acc = g16(t, n, 2);
            Tensor more = g16(t, n, 2);
            short[] a = bits(t, acc);
            HostMath.elementwiseTyped(4, 0f, 1, type, bits(t, more), a);
            sameBits(t + " accumulate", a, BackendParity.reference(new org.leanseg.ops.elementwise.AccumulateInto(), acc, more).get(0), t);
        }
    }

    private static void sameBits(String what, short[] got, Tensor ref, org.leanseg.tensor.DType t) {
        assertEquals(t, ref.spec().dtype(), what + ": the reference output is 16-bit");
        short[] want = bits(t, ref);
        for (int i = 0; i < got.length; i++) {
            if (got[i] != want[i]) {
                throw new AssertionError(String.format("%s: element %d is 0x%04x, the reference's 0x%04x", what, i, got[i] & 0xffff,
                        want[i] & 0xffff));
            }
        }
    }
}
