package org.leanseg.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.BiasGrad;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.elementwise.AccumulateInto;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Fill;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.ops.loss.DistillKl;
import org.leanseg.ops.loss.DistillKlBackward;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.SoftmaxCrossEntropyBackward;
import org.leanseg.ops.loss.UpsampleArgmax;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.BatchNormBackwardThroughConv;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;
import org.leanseg.ops.optim.AdamW;
import org.leanseg.ops.optim.LossScale;
import org.leanseg.ops.optim.LossScaleUpdate;
import org.leanseg.ops.optim.LossScaled;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.GlobalAvgPoolBackward;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The one shared list of kernel parity cases: one or more per row of the op table, random inputs.
 * Every backend's parity test (CpuOpsParityTest, CudaOpsParityTest) runs these against the reference
 * through {@link BackendParity}; {@link ParityCasesTest} checks that every variant of every table row
 * (each name {@code leanseg ops} prints) has a case. {@link #all16} gives the same cases with their
 * data tensors (activations, their gradients, logits: what a 16-bit step stores in 16 bits, Note [Mixed
 * precision]) of a 16-bit type, for the rows whose data can be 16-bit; weights, statistics, labels and
 * optimizer state stay as they are.
 */
public final class ParityCases {
    /** Our kernels: float32 with double accumulation where the reference has it. */
    public static final double KERNEL_TOL = 1e-5;
    /** cuDNN float32 (FMA math): other summation orders than the reference's GEMM. */
    public static final double CONV_TOL = 1e-4;

    public record Case(String name, Op op, List<Tensor> inputs, double tolerance) {
    }

    private final Random rnd;
    private final DType data;
    private final List<Case> cases = new ArrayList<>();

    private ParityCases(Random rnd, DType data) {
        this.rnd = rnd;
        this.data = data;
    }

    /** Marks a data tensor: of this list's data type (its values are rounded when a backend stores them). */
    private Tensor x(Tensor t) {
        return t.spec().dtype() == data ? t : new Tensor(new TensorSpec(t.spec().shape(), data), t.data());
    }

    /** A random data tensor. */
    private Tensor gx(int... dims) {
        return x(g(dims));
    }

    private Tensor ux(double lo, double hi, int... dims) {
        return x(u(lo, hi, dims));
    }

    private Tensor g(int... dims) {
        return Tensor.gaussian(Shape.of(dims), 1, rnd);
    }

    private Tensor u(double lo, double hi, int... dims) {
        return Tensor.uniform(Shape.of(dims), lo, hi, rnd);
    }

    private Tensor labels(int classes, int... dims) {
        int[] l = new int[Shape.of(dims).size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(classes);
        }
        return Tensor.labels(Shape.of(dims), l);
    }

    private void add(String name, Op op, double tol, Tensor... in) {
        cases.add(new Case(name, op, List.of(in), tol));
    }

    public static List<Case> all(Random rnd) {
        return build(rnd, DType.F32);
    }

    /**
     * The cases whose data tensors can be 16-bit, with those of type {@code half}. Each 16-bit output's
     * tolerance then adds one unit in the last place of its storage type ({@link #storageUlp}): a kernel
     * that sums in another order rounds to the neighbouring 16-bit value now and then.
     */
    public static List<Case> all16(Random rnd, DType half) {
        List<Case> out = new ArrayList<>();
        for (Case c : build(rnd, half)) {
            List<TensorSpec> in = c.inputs().stream().map(Tensor::spec).toList();
            boolean any = in.stream().anyMatch(s -> s.dtype() == half) || c.op().infer(in).stream().anyMatch(s -> s.dtype() == half);
            if (any) {
                out.add(new Case(c.name() + " " + half.name().toLowerCase(java.util.Locale.ROOT), c.op(), c.inputs(), c.tolerance()));
            }
        }
        return out;
    }

    /** The spacing of a 16-bit type's values relative to their magnitude (at most): 2^-7 for bf16, 2^-10 for fp16; 0 otherwise. */
    public static double storageUlp(DType t) {
        return switch (t) {
            case BF16 -> 0x1p-7;
            case F16 -> 0x1p-10;
            default -> 0;
        };
    }

    private static List<Case> build(Random rnd, DType data) {
        ParityCases p = new ParityCases(rnd, data);
        p.elementwise();
        p.conv();
        p.norm();
        p.shape();
        p.loss();
        return p.cases;
    }

    private void elementwise() {
        add("add 3 inputs", new Add(), KERNEL_TOL, gx(2, 3, 5, 7), gx(2, 3, 5, 7), gx(2, 3, 5, 7));
        add("scale", new Scale(-0.37f), KERNEL_TOL, gx(1000));
        add("fill", new Fill(new TensorSpec(Shape.of(3, 17), data), 1.3f), KERNEL_TOL);
        add("accumulate_into", new AccumulateInto(), KERNEL_TOL, gx(4, 33), gx(4, 33));
        add("relu", Activation.relu(), KERNEL_TOL, gx(2, 4, 9, 9));
        add("relu6", Activation.relu6(), KERNEL_TOL, ux(-3, 9, 2, 4, 9, 9));
        add("relu_backward", new ActivationBackward(Activation.Kind.RELU), KERNEL_TOL, ux(-1, 3, 2, 3, 8, 8), gx(2, 3, 8, 8));
        add("relu6_backward", new ActivationBackward(Activation.Kind.RELU6), KERNEL_TOL, ux(-1, 7, 2, 3, 8, 8), gx(2, 3, 8, 8));
        add("sgd momentum wd", new Sgd(0.9f, false, 1e-4f, 1f, true), KERNEL_TOL, g(64, 3, 3, 3), g(64, 3, 3, 3), g(64, 3, 3, 3),
                Tensor.of(Shape.of(1), 0.01f));
        add("sgd nesterov lrScale", new Sgd(0.9f, true, 0f, 10f, false), KERNEL_TOL, g(300), g(300), g(300),
                Tensor.of(Shape.of(1), 0.003f));
        // Note [Dynamic loss scaling]: state [k, clean steps, skipped], scale 2^(16+k), found 0 (a step) or 1 (a skip)
        add("loss_scale", new LossScale(), KERNEL_TOL, Tensor.of(Shape.of(3), -2f, 7f, 3f));
        add("loss_scale_update finite", new LossScaleUpdate(8), KERNEL_TOL, Tensor.of(Shape.of(3), 1f, 7f, 2f), g(64, 3, 3, 3), g(300));
        // (inf/NaN gradients: LossScalingTest; parity results must be finite)
        add("loss_scaled_update sgd", new LossScaled(new Sgd(0.9f, false, 1e-4f, 1f, true)), KERNEL_TOL, g(300), g(300), g(300),
                Tensor.of(Shape.of(1), 0.1f), Tensor.of(Shape.of(1), 65536f), Tensor.of(Shape.of(1), 0f));
        add("loss_scaled_update sgd skipped", new LossScaled(new Sgd(0.9f, false, 1e-4f, 1f, true)), KERNEL_TOL, g(300), g(300), g(300),
                Tensor.of(Shape.of(1), 0.1f), Tensor.of(Shape.of(1), 65536f), Tensor.of(Shape.of(1), 1f));
        AdamW adamw = new AdamW(0.9f, 0.999f, 1e-8f, 0.01f, 1f, true);
        add("adamw step 1", adamw, KERNEL_TOL, g(64, 3, 3, 3), g(64, 3, 3, 3), g(64, 3, 3, 3), u(0, 1, 64, 3, 3, 3),
                Tensor.of(Shape.of(3), AdamW.hyper(1e-3, 0.9, 0.999, 1)));
        add("adamw step 9 lrScale no zeroGrad", new AdamW(0.8f, 0.99f, 1e-6f, 0f, 10f, false), KERNEL_TOL, g(300), g(300),
                Tensor.gaussian(Shape.of(300), 0.1, rnd), u(0, 0.05, 300), Tensor.of(Shape.of(3), AdamW.hyper(3e-4, 0.8, 0.99, 9)));
    }

    /** x [n, cin, h, w] through conv(stride, pad, dil, groups) with a k x k kernel: forward, both backward ops. */
    private void convFamily(String name, int n, int cin, int h, int w, int cout, int k, int stride, int pad, int dil, int groups,
                            boolean bias) {
        Conv2d op = Conv2d.of(stride, pad, dil, groups);
        Tensor x = gx(n, cin, h, w);
        Tensor wt = g(cout, cin / groups, k, k);
        Shape y = op.infer(List.of(x.spec(), wt.spec())).get(0).shape();
        if (bias) {
            add("conv2d " + name, op, CONV_TOL, x, wt, g(cout));
        } else {
            add("conv2d " + name, op, CONV_TOL, x, wt);
        }
        Tensor dy = x(Tensor.gaussian(y, 1, rnd));
        add("conv2d_backward_data " + name, new Conv2dBackwardData(op, h, w), CONV_TOL, dy, wt);
        add("conv2d_backward_filter " + name, new Conv2dBackwardFilter(op, k, k), CONV_TOL, x, dy);
    }

    private void conv() {
        convFamily("3x3 s1 p1 +bias", 2, 8, 13, 11, 16, 3, 1, 1, 1, 1, true);
        convFamily("3x3 s2 p1", 2, 16, 17, 17, 24, 3, 2, 1, 1, 1, false);
        convFamily("1x1", 2, 32, 9, 9, 16, 1, 1, 0, 1, 1, false);
        // 1x1 on a map of 1024+ pixels with a bias, on one image, and strided
        convFamily("1x1 large map +bias", 2, 16, 32, 33, 8, 1, 1, 0, 1, 1, true);
        convFamily("1x1 one image", 1, 12, 5, 7, 20, 1, 1, 0, 1, 1, false);
        convFamily("1x1 s2", 2, 8, 9, 9, 16, 1, 2, 0, 1, 1, false);
        convFamily("depthwise 3x3 s1 dil2", 2, 24, 15, 15, 24, 3, 1, 2, 2, 24, false);
        convFamily("depthwise 3x3 s2", 2, 16, 16, 16, 16, 3, 2, 1, 1, 16, false);
        // dilated dense: the cpu backend's per-tap filter gradient (conv.cpp); at dil 6 on 5x7 only the centre tap sees the map
        convFamily("3x3 dil2", 2, 12, 11, 10, 8, 3, 1, 2, 2, 1, false);
        convFamily("3x3 dil6 centre only", 2, 8, 5, 7, 6, 3, 1, 6, 6, 1, false);
        convFamily("3x3 s2 dil2", 1, 6, 13, 12, 4, 3, 2, 2, 2, 1, false);
        convFamily("grouped 3x3 g4 dil3", 1, 16, 20, 20, 32, 3, 1, 3, 3, 4, false);
        convFamily("7x7 s2 p3 +bias", 1, 3, 32, 32, 8, 7, 2, 3, 1, 1, true);
        add("conv2d_bias_grad", new BiasGrad(), KERNEL_TOL, gx(3, 20, 7, 9));
        // fused ReLU/ReLU6 + depthwise (our kernels, conv.cu): z spans both sides of 0 and of the ReLU6 cap
        actDepthwise("relu6 3x3 s1 +bias", Activation.Kind.RELU6, 2, 16, 1, 13, 11, 3, 1, 1, 1, true);
        actDepthwise("relu6 3x3 s2", Activation.Kind.RELU6, 2, 24, 1, 17, 16, 3, 2, 1, 1, false);
        actDepthwise("relu 3x3 dil2 x2", Activation.Kind.RELU, 2, 8, 2, 15, 15, 3, 1, 2, 2, true);
        actDepthwise("relu 5x5 s2", Activation.Kind.RELU, 1, 8, 1, 33, 29, 5, 2, 2, 1, false);
        // Note [Activation into a dense convolution] (reference only: other devices take their fallback)
        actDense("relu 3x3 +bias", Activation.Kind.RELU, 2, 6, 11, 9, 8, 3, 1, true);
        actDense("relu6 1x1", Activation.Kind.RELU6, 2, 8, 7, 7, 5, 1, 0, false);
        // Note [Data gradient over its input gradient]
        for (int[] c : new int[][] {{2, 8, 9, 7, 3, 1, 1}, {1, 6, 13, 8, 3, 2, 2}, {2, 12, 5, 6, 1, 0, 1}}) {
            Conv2d conv = Conv2d.of(1, c[5], c[6], 1);
            add("conv2d_backward_data_inplace " + c[4] + "x" + c[4] + " dil" + c[6], new Conv2dBackwardData(conv, c[2], c[3]).overItsInput(),
                    CONV_TOL, gx(c[0], c[1], c[2], c[3]), g(c[1], c[1], c[4], c[4]));
        }
        // Note [BN backward through a 1x1 convolution]: y both sides of 0 and of ReLU6's cap
        for (Activation.Kind act : Activation.Kind.values()) {
            add(new BatchNormBackwardThroughConv(act).name(), new BatchNormBackwardThroughConv(act), KERNEL_TOL, ux(-3, 8, 2, 12, 9, 7),
                    gammas(12), g(12), u(0.5, 2, 12), gx(2, 5, 9, 7), g(5, 12, 1, 1));
        }
    }

    /** Fused activation + dense conv (groups 1): forward and filter gradient. */
    private void actDense(String name, Activation.Kind act, int n, int cin, int h, int w, int cout, int k, int pad, boolean bias) {
        Conv2d conv = Conv2d.of(1, pad, 1, 1);
        ActConv2d op = new ActConv2d(act, conv);
        Tensor z = ux(-3, 9, n, cin, h, w);
        Tensor wt = g(cout, cin, k, k);
        Shape y = op.infer(List.of(z.spec(), wt.spec())).get(0).shape();
        if (bias) {
            add(op.name() + " " + name, op, CONV_TOL, z, wt, g(cout));
        } else {
            add(op.name() + " " + name, op, CONV_TOL, z, wt);
        }
        ActConv2dBackwardFilter filter = new ActConv2dBackwardFilter(act, new Conv2dBackwardFilter(conv, k, k));
        add(filter.name() + " " + name, filter, CONV_TOL, z, x(Tensor.gaussian(y, 1, rnd)));
    }

    /** Fused activation + depthwise conv (channel multiplier mult): forward and filter gradient. */
    private void actDepthwise(String name, Activation.Kind act, int n, int c, int mult, int h, int w, int k, int stride, int pad,
                              int dil, boolean bias) {
        Conv2d conv = Conv2d.of(stride, pad, dil, c);
        ActConv2d op = new ActConv2d(act, conv);
        Tensor z = ux(-3, 9, n, c, h, w);
        Tensor wt = g(c * mult, 1, k, k);
        Shape y = op.infer(List.of(z.spec(), wt.spec())).get(0).shape();
        if (bias) {
            add(op.name() + " " + name, op, KERNEL_TOL, z, wt, g(c * mult));
        } else {
            add(op.name() + " " + name, op, KERNEL_TOL, z, wt);
        }
        ActConv2dBackwardFilter filter = new ActConv2dBackwardFilter(act, new Conv2dBackwardFilter(conv, k, k));
        add(filter.name() + " " + name, filter, KERNEL_TOL, z, x(Tensor.gaussian(y, 1, rnd)));
    }

    /** Gammas of magnitude in [0.3, 2) with random signs: far from 0, as the in-place BN's guard demands. */
    private Tensor gammas(int c) {
        Tensor t = u(0.3, 2, c);
        for (int i = 0; i < c; i++) {
            t.data()[i] *= rnd.nextBoolean() ? 1 : -1;
        }
        return t;
    }

    private void norm() {
        Tensor rv = u(0.5, 2, 12);
        add("batch_norm train", BatchNorm.of(true), KERNEL_TOL, ux(-2, 4, 3, 12, 9, 7), g(12), g(12), g(12), rv);
        add("batch_norm train 1x1 planes", BatchNorm.of(true), KERNEL_TOL, gx(5, 12, 1, 1), g(12), g(12), g(12), u(0.5, 2, 12));
        add("batch_norm eval", BatchNorm.of(false), KERNEL_TOL, gx(3, 12, 9, 7), g(12), g(12), g(12), u(0.5, 2, 12));
        add("batch_norm_backward", BatchNormBackward.of(BatchNormBackward.Source.X), KERNEL_TOL, gx(3, 12, 9, 7), g(12), g(12), u(0.5, 2, 12),
                gx(3, 12, 9, 7));
        add("batch_norm_backward 1x1 planes", BatchNormBackward.of(BatchNormBackward.Source.X), KERNEL_TOL, gx(2, 12, 1, 1), g(12), g(12),
                u(0.5, 2, 12), gx(2, 12, 1, 1));
        add("batch_norm_eval_backward", BatchNormBackward.eval(1e-3), KERNEL_TOL, gx(3, 12, 9, 7), g(12), g(12), u(0.5, 2, 12),
                gx(3, 12, 9, 7));
        add("batch_norm_inplace", BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE), KERNEL_TOL, ux(-2, 4, 3, 12, 9, 7), g(12), g(12), g(12),
                u(0.5, 2, 12));
        add("batch_norm_backward_from_output", BatchNormBackward.of(BatchNormBackward.Source.Y), KERNEL_TOL, gx(3, 12, 9, 7), gammas(12),
                g(12), u(0.5, 2, 12), gx(3, 12, 9, 7));
        add("batch_norm_replay", BatchNorm.of(BatchNorm.Mode.REPLAY), KERNEL_TOL, ux(-2, 4, 3, 12, 9, 7), g(12), g(12), g(12), u(0.5, 2, 12));
        add("batch_norm_replay 1x1 planes", BatchNorm.of(BatchNorm.Mode.REPLAY), KERNEL_TOL, gx(5, 12, 1, 1), g(12), g(12), g(12),
                u(0.5, 2, 12));
        // sets split into several blocks (NormGrid: the last-block combine, float4 loads, units of 2,048 floats):
        // [4, 3, 64, 64] gets 8 chunks per channel, [2, 3, 45, 61] (hw 2745, scalar loads) 4, GN [2, 4, 48, 48] 8
        add("batch_norm train split sets", BatchNorm.of(true), KERNEL_TOL, u(-2, 4, 4, 3, 64, 64), g(3), g(3), g(3), u(0.5, 2, 3));
        add("batch_norm_backward split sets", BatchNormBackward.of(BatchNormBackward.Source.X), KERNEL_TOL, g(2, 3, 45, 61), g(3), g(3),
                u(0.5, 2, 3), g(2, 3, 45, 61));
        add("batch_norm_backward_from_output split sets", BatchNormBackward.of(BatchNormBackward.Source.Y), KERNEL_TOL, g(4, 3, 64, 64),
                gammas(3), g(3), u(0.5, 2, 3), g(4, 3, 64, 64));
        add("group_norm g1 split sets", new GroupNorm(1, 1e-5), KERNEL_TOL, u(-1, 3, 2, 4, 48, 48), g(4), g(4));
        add("conv2d_bias_grad split sets", new BiasGrad(), KERNEL_TOL, g(4, 3, 64, 64));
        add("group_norm_inplace g4", new GroupNorm(4, 1e-5, true), KERNEL_TOL, u(-1, 3, 2, 16, 9, 7), gammas(16), g(16));
        add("group_norm_backward_from_output g4", new GroupNormBackward(4, GroupNormBackward.Source.Y), KERNEL_TOL, g(2, 16, 9, 7), gammas(16), g(16),
                u(0.5, 2, 8), g(2, 16, 9, 7));
        for (int groups : new int[] {1, 4, 16}) {
            Tensor x = u(-1, 3, 2, 16, 9, 7);
            add("group_norm g" + groups, new GroupNorm(groups, 1e-5), KERNEL_TOL, x, g(16), g(16));
            add("group_norm_backward g" + groups, new GroupNormBackward(groups), KERNEL_TOL, x, g(16), g(2 * groups),
                    u(0.5, 2, 2 * groups), g(2, 16, 9, 7));
        }
    }

    private void shape() {
        add("resize up x4", Resize.to(36, 28), KERNEL_TOL, gx(2, 3, 9, 7));
        add("resize down", Resize.to(5, 6), KERNEL_TOL, gx(2, 3, 17, 13));
        add("resize up align_corners", new Resize(19, 23, true), KERNEL_TOL, gx(1, 2, 6, 5));
        add("resize_bilinear_backward up x4", new ResizeBackward(9, 7, false), KERNEL_TOL, gx(2, 3, 36, 28));
        add("resize_bilinear_backward down", new ResizeBackward(17, 13, false), KERNEL_TOL, gx(2, 3, 5, 6));
        add("resize_bilinear_backward odd", new ResizeBackward(7, 10, false), KERNEL_TOL, gx(1, 2, 23, 31));
        add("resize_bilinear_backward align_corners", new ResizeBackward(6, 5, true), KERNEL_TOL, gx(1, 2, 19, 23));
        add("global_avg_pool", new GlobalAvgPool(), KERNEL_TOL, gx(2, 5, 13, 17));
        add("global_avg_pool_backward", new GlobalAvgPoolBackward(13, 17), KERNEL_TOL, gx(2, 5, 1, 1));
        add("concat 3", new Concat(), KERNEL_TOL, gx(2, 3, 4, 5), gx(2, 1, 4, 5), gx(2, 6, 4, 5));
        add("channel_slice", new ChannelSlice(2, 5), KERNEL_TOL, gx(2, 9, 4, 5));
    }

    private void loss() {
        add("softmax_cross_entropy", SoftmaxCrossEntropy.of(255), KERNEL_TOL, gx(2, 5, 9, 11), labels(5, 2, 9, 11));
        float[] w = {0.5f, 2f, 1f, 0f, 3f};
        add("softmax_cross_entropy weighted", new SoftmaxCrossEntropy(255, w), KERNEL_TOL, gx(2, 5, 9, 11), labels(5, 2, 9, 11));
        add("softmax_cross_entropy_backward", new SoftmaxCrossEntropyBackward(255, null), KERNEL_TOL, gx(2, 5, 9, 11),
                labels(5, 2, 9, 11), Tensor.of(Shape.of(1), 0.7f));
        add("softmax_cross_entropy_backward weighted", new SoftmaxCrossEntropyBackward(255, w), KERNEL_TOL, gx(2, 5, 9, 11),
                labels(5, 2, 9, 11), Tensor.of(Shape.of(1), 1f));
        add("upsample_softmax_cross_entropy x4", new UpsampleSoftmaxCrossEntropy(20, 24, false, 255, null), KERNEL_TOL,
                gx(2, 5, 5, 6), labels(5, 2, 20, 24));
        add("upsample_softmax_cross_entropy weighted align_corners", new UpsampleSoftmaxCrossEntropy(13, 9, true, 255, w), KERNEL_TOL,
                gx(1, 5, 4, 3), labels(5, 1, 13, 9));
        add("upsample_softmax_cross_entropy_backward x4", new UpsampleSoftmaxCrossEntropyBackward(20, 24, false, 255, null),
                KERNEL_TOL, gx(2, 5, 5, 6), labels(5, 2, 20, 24), Tensor.of(Shape.of(1), 0.7f));
        add("upsample_softmax_cross_entropy_backward weighted", new UpsampleSoftmaxCrossEntropyBackward(13, 9, true, 255, w),
                KERNEL_TOL, gx(1, 5, 4, 3), labels(5, 1, 13, 9), Tensor.of(Shape.of(1), 1f));
        for (DistillKl.Kind kind : DistillKl.Kind.values()) {
            boolean pixel = kind == DistillKl.Kind.PIXEL;
            Tensor s = g(2, 5, 6, 7);
            Tensor t = Tensor.gaussian(Shape.of(2, 5, 6, 7), 2, rnd);
            Tensor[] in = pixel ? new Tensor[] {s, t, labels(5, 2, 6, 7)} : new Tensor[] {s, t};
            add("distill_kl_" + kind.yamlName() + " T=2", new DistillKl(kind, 2f, 255), KERNEL_TOL, in);
            Tensor[] back = java.util.Arrays.copyOf(in, in.length + 1);
            back[in.length] = Tensor.of(Shape.of(1), 0.7f);
            add("distill_kl_" + kind.yamlName() + "_backward T=4", new DistillKlBackward(kind, 4f, 255), KERNEL_TOL, back);
        }
        add("argmax", new Argmax(), KERNEL_TOL, gx(2, 7, 5, 6));
        add("upsample_argmax x4", new UpsampleArgmax(20, 24, false), KERNEL_TOL, gx(2, 7, 5, 6));
        add("upsample_argmax align_corners", new UpsampleArgmax(13, 9, true), KERNEL_TOL, gx(1, 7, 4, 3));
    }
}
