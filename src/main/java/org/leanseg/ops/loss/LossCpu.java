package org.leanseg.ops.loss;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.backend.reference.RefView;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * The cpu column of the loss rows ({@code Ops}): native softmax cross-entropy (forward, backward),
 * argmax, and their fused upsample forms (Note [Fused upsample loss]); logits and their gradient may be 16-bit, the
 * loss is computed and stored in float32 (Note [Mixed precision]). A label that is no class stops the op with the reference's error (same message).
 */
public final class LossCpu {
    private LossCpu() {
    }

    public static void crossEntropy(SoftmaxCrossEntropy op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        double total = CpuNative.crossEntropy(in[0].address(), in[1].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2),
                s.dim(3), op.ignoreIndex(), op.classWeights(), CpuNative.dtypeCode(in[0]));
        checkLabels(total, cpu, in[1], s.dim(1), op.ignoreIndex(), op.classWeights());
    }

    public static void crossEntropyBackward(SoftmaxCrossEntropyBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        double total = CpuNative.crossEntropyBackward(in[0].address(), in[1].address(), in[2].address(), out[0].address(),
                s.dim(0), s.dim(1), s.dim(2), s.dim(3), op.ignoreIndex(), op.classWeights(), CpuNative.dtypeCode(in[0], out[0]));
        checkLabels(total, cpu, in[1], s.dim(1), op.ignoreIndex(), op.classWeights());
    }

    public static void upsampleCrossEntropy(UpsampleSoftmaxCrossEntropy op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        double total = CpuNative.upsampleCrossEntropy(in[0].address(), in[1].address(), out[0].address(), s.dim(0), s.dim(1),
                s.dim(2), s.dim(3), op.outH(), op.outW(), op.alignCorners(), op.ignoreIndex(), op.classWeights(), CpuNative.dtypeCode(in[0]));
        checkLabels(total, cpu, in[1], s.dim(1), op.ignoreIndex(), op.classWeights());
    }

    public static void upsampleCrossEntropyBackward(UpsampleSoftmaxCrossEntropyBackward op, CpuBackend cpu, CpuView[] in,
                                                    CpuView[] out) {
        Shape s = in[0].spec().shape();
        double total = CpuNative.upsampleCrossEntropyBackward(in[0].address(), in[1].address(), in[2].address(), out[0].address(),
                s.dim(0), s.dim(1), s.dim(2), s.dim(3), op.outH(), op.outW(), op.alignCorners(), op.ignoreIndex(), op.classWeights(),
                CpuNative.dtypeCode(in[0], out[0]));
        checkLabels(total, cpu, in[1], s.dim(1), op.ignoreIndex(), op.classWeights());
    }

    public static void upsampleArgmax(UpsampleArgmax op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.upsampleArgmax(in[0].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2), s.dim(3), op.outH(), op.outW(),
                op.alignCorners(), CpuNative.dtypeCode(in[0]));
    }

    /** A negative total names a bad label: the reference's validation then throws its message. */
    private static void checkLabels(double total, CpuBackend cpu, CpuView labels, int classes, int ignore, float[] weights) {
        if (total < 0) {
            Tensor t = new Tensor(labels.spec(), new float[labels.numel()]);
            cpu.download(labels, t);
            CrossEntropyMath.validateAndWeigh(new RefView(t.data(), 0, labels.spec()), classes, ignore, weights);
            throw new IllegalStateException("cpu cross-entropy found a bad label that the reference accepts");
        }
    }

    public static void argmax(Argmax op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.argmax(in[0].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2), s.dim(3), CpuNative.dtypeCode(in[0]));
    }
}
