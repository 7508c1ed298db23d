package org.leanseg.ops.norm;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaNormKernels;
import org.leanseg.backend.cuda.NormSteps;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;

/**
 * CUDA bindings of batch norm and group norm: each op is one sequence of {@link NormSteps} (the kernels of
 * src/main/cuda/norm.cu, Note [Two-level norm reductions] in norm.cuh: two-level reductions over a
 * channel x chunk grid, then one elementwise pass over a plane x segment grid). The same sequences run on
 * the CPU in HostKernelGridTest, with the same grids. Each binding dispatches on its op's mode or source;
 * in-place GN and its backward from the output have no kernel here. Reference: {@link BatchNorm},
 * {@link BatchNormBackward}, {@link GroupNorm}, {@link GroupNormBackward}. The activations may be 16-bit (Note [16-bit
 * norm kernels] in norm.cuh: the kernels take their storage type; not yet run on a GPU, so the table marks it untested).
 */
public final class NormCuda {
    private NormCuda() {
    }

    private static Long a(CudaView v) {
        return v.address();
    }

    /** in = {x, gamma, beta, runningMean, runningVar}; out = {y[, saveMean, saveInvStd]}. */
    public static void batchNorm(BatchNorm op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        CudaNormKernels k = new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec()));
        switch (op.mode()) {
            // TRAIN_IN_PLACE (Note [In-place BN backward]): out[0] may be in[0]
            case TRAIN, TRAIN_IN_PLACE -> NormSteps.batchNormTrain(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]),
                    op.eps(), op.momentum(), a(out[0]), a(out[1]), a(out[2]));
            // REPLAY: running statistics untouched (null pointers)
            case REPLAY -> NormSteps.batchNormTrain(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), null, null, op.eps(), 0.0,
                    a(out[0]), a(out[1]), a(out[2]));
            case EVAL -> NormSteps.batchNormEval(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]), op.eps(),
                    a(out[0]));
        }
    }

    /** in and out as {@link BatchNormBackward}'s source says; out = {dX, dGamma, dBeta}. */
    public static void batchNormBackward(BatchNormBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        CudaNormKernels k = new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec()));
        switch (op.source()) {
            // in = {x, gamma, saveMean, saveInvStd, dY}
            case X -> NormSteps.batchNormBackward(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]), a(out[0]),
                    a(out[1]), a(out[2]));
            // in = {y, gamma, beta, saveInvStd, dY}; dX may be dY
            case Y -> NormSteps.batchNormBackwardFromOutput(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]),
                    a(out[0]), a(out[1]), a(out[2]));
            // in = {x, gamma, runningMean, runningVar, dY}
            case EVAL -> NormSteps.batchNormEvalBackward(k, n, c, hw, a(in[0]), a(in[1]), a(in[2]), a(in[3]), op.eps(), a(in[4]),
                    a(out[0]), a(out[1]), a(out[2]));
        }
    }

    /** in = {x, gamma, beta}; out = {y, saveMean, saveInvStd}; y may be x (in place: the statistics launch reads x first). */
    public static void groupNorm(GroupNorm op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        NormSteps.groupNorm(new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec())), NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s),
                op.groups(), op.eps(), a(in[0]), a(in[1]), a(in[2]), a(out[0]), a(out[1]), a(out[2]));
    }

    /**
     * From x: in = {x, gamma, saveMean, saveInvStd, dY}; from the output (in-place GN): in = {y, gamma, beta, saveInvStd,
     * dY}, dX may be dY. out = {dX, dGamma, dBeta}.
     */
    public static void groupNormBackward(GroupNormBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        if (op.source() == GroupNormBackward.Source.Y) {
            NormSteps.groupNormBackwardFromOutput(new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec())), NormShapes.batch(s), NormShapes.channels(s),
                    NormShapes.spatial(s), op.groups(), a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]), a(out[0]), a(out[1]),
                    a(out[2]));
            return;
        }
        NormSteps.groupNormBackward(new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec())), NormShapes.batch(s), NormShapes.channels(s), NormShapes.spatial(s),
                op.groups(), a(in[0]), a(in[1]), a(in[2]), a(in[3]), a(in[4]), a(out[0]), a(out[1]), a(out[2]));
    }
}
