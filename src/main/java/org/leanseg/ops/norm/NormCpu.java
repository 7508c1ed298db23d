package org.leanseg.ops.norm;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.tensor.Shape;

/**
 * The cpu column of the batch-norm rows ({@code Ops}): native kernels, one thread per channel,
 * double accumulators as the reference; in place where the op allows (Note [In-place BN backward]).
 * Group norm has no cpu kernel: its rows run through the cpu device's host fallback.
 */
public final class NormCpu {
    private static final int FROM_INPUT = 0;
    private static final int FROM_OUTPUT = 1;
    private static final int EVAL = 2;

    private NormCpu() {
    }

    private static void train(CpuView[] in, CpuView[] out, double eps, double momentum) {
        Shape s = in[0].spec().shape();
        CpuNative.batchNormTrain(in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                out[0].address(), out[1].address(), out[2].address(),
                NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), eps, momentum);
    }

    public static void batchNorm(BatchNorm op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        if (op.training()) {
            train(in, out, op.eps(), op.momentum());
            return;
        }
        Shape s = in[0].spec().shape();
        CpuNative.batchNormEval(in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                out[0].address(), NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), op.eps());
    }

    public static void batchNormInPlace(BatchNormInPlace op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        train(in, out, op.eps(), op.momentum());
    }

    public static void batchNormReplay(BatchNormReplay op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        train(in, out, op.eps(), -1);
    }

    private static void backward(int mode, CpuView[] in, CpuView[] out, double eps) {
        Shape s = in[0].spec().shape();
        CpuNative.batchNormBackward(mode, in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                out[0].address(), out[1].address(), out[2].address(),
                NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), eps);
    }

    /** in = {x, gamma, saveMean, saveInvStd, dY}. */
    public static void batchNormBackward(BatchNormBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        backward(FROM_INPUT, in, out, 0);
    }

    /** in = {y, gamma, beta, saveInvStd, dY}; dX may be dY's buffer. */
    public static void batchNormBackwardFromOutput(BatchNormBackwardFromOutput op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuView[] args = {in[0], in[1], in[2], in[3], in[4]};
        backward(FROM_OUTPUT, args, out, 0);
    }

    /** in = {x, gamma, runningMean, runningVar, dY}. */
    public static void batchNormEvalBackward(BatchNormEvalBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        backward(EVAL, in, out, op.eps());
    }
}
