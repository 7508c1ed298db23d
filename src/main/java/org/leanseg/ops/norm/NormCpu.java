package org.leanseg.ops.norm;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.tensor.Shape;

/**
 * The cpu column of the batch-norm rows ({@code Ops}): native kernels, one thread per channel,
 * double accumulators as the reference; in place where the op allows (Note [In-place BN backward]). Data
 * (x, y, dY, dX) may be 16-bit (Note [Mixed precision]); statistics, gamma, beta and their gradients are float32.
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
                NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), eps, momentum, CpuNative.dtypeCode(in[0], out[0]));
    }

    /** in = {x, gamma, beta, runningMean, runningVar}; by mode; y may be x in the in-place modes. */
    public static void batchNorm(BatchNorm op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        switch (op.mode()) {
            case TRAIN, TRAIN_IN_PLACE -> train(in, out, op.eps(), op.momentum());
            case REPLAY -> train(in, out, op.eps(), -1);
            case EVAL -> {
                Shape s = in[0].spec().shape();
                CpuNative.batchNormEval(in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                        out[0].address(), NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), op.eps(),
                        CpuNative.dtypeCode(in[0], out[0]));
            }
        }
    }

    /**
     * in = {x, gamma, saveMean, saveInvStd, dY} (X), {y, gamma, beta, saveInvStd, dY} (Y; dX may be
     * dY's buffer) or {x, gamma, runningMean, runningVar, dY} (EVAL).
     */
    public static void batchNormBackward(BatchNormBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        int mode = switch (op.source()) {
            case X -> FROM_INPUT;
            case Y -> FROM_OUTPUT;
            case EVAL -> EVAL;
        };
        Shape s = in[0].spec().shape();
        CpuNative.batchNormBackward(mode, in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                out[0].address(), out[1].address(), out[2].address(),
                NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s), op.eps(), CpuNative.dtypeCode(in[0], in[4], out[0]));
    }
}
