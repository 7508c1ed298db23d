package org.leanseg.ops.norm;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;

/**
 * CUDA bindings of batch norm (kernels in src/main/cuda/norm.cu, math in norm.cuh): a per-channel
 * reduction (one block per channel, double, fixed order) followed by a full-grid elementwise pass.
 * Group norm reduces one block per (sample, group). Each binding dispatches on its op's mode or
 * source; the op table says which of those variants have run on a GPU ({@code untested}) and which
 * have no kernel here (in-place GN and its backward from the output). Reference: {@link BatchNorm},
 * {@link BatchNormBackward}, {@link GroupNorm}, {@link GroupNormBackward}. The per-element math
 * (norm.cuh) is also checked on the CPU by HostKernelMathTest.
 */
public final class NormCuda {
    /** Marks "use the given invStd" in the kernels' invStdOrVar argument (eps >= 0 means "a variance"). */
    private static final double GIVEN_INV_STD = -1;

    private NormCuda() {
    }

    /** in = {x, gamma, beta, runningMean, runningVar}; out = {y[, saveMean, saveInvStd]}. */
    public static void batchNorm(BatchNorm op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long total = in[0].numel();
        switch (op.mode()) {
            // TRAIN_IN_PLACE (Note [In-place BN backward]): out[0] may be in[0]
            case TRAIN, TRAIN_IN_PLACE -> trainingForward(op.eps(), op.momentum(), in[3].address(), in[4].address(), gpu, in, out);
            // REPLAY: running statistics untouched (null pointers)
            case REPLAY -> trainingForward(op.eps(), 0.0, 0L, 0L, gpu, in, out);
            case EVAL -> gpu.launch("ls_bn_apply_k", total, total, c, hw, in[0].address(), in[1].address(), in[2].address(),
                    in[3].address(), in[4].address(), op.eps(), out[0].address());
        }
    }

    /**
     * Training forward: statistics (one block per channel, reading all of x) then y. y may be x: the
     * statistics kernel has finished before the elementwise pass writes (one stream).
     */
    private static void trainingForward(double eps, double momentum, long runMean, long runVar, CudaBackend gpu, CudaView[] in,
                                        CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long total = in[0].numel();
        gpu.launchBlocks("ls_bn_stats_k", c, n, c, hw, in[0].address(), out[1].address(), out[2].address(),
                runMean, runVar, eps, momentum);
        gpu.launch("ls_bn_apply_k", total, total, c, hw, in[0].address(), in[1].address(), in[2].address(),
                out[1].address(), out[2].address(), GIVEN_INV_STD, out[0].address());
    }

    /** in and out as {@link BatchNormBackward}'s source says; out = {dX, dGamma, dBeta}. */
    public static void batchNormBackward(BatchNormBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        switch (op.source()) {
            case X -> fromInput(gpu, in, out);
            case Y -> fromOutput(gpu, in, out);
            case EVAL -> eval(op.eps(), gpu, in, out);
        }
    }

    /** in = {y, gamma, beta, saveInvStd, dY}; out = {dX, dGamma, dBeta}; dX may be dY. */
    private static void fromOutput(CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long total = in[0].numel();
        gpu.launchBlocks("ls_bn_out_backward_reduce_k", c, n, c, hw, in[0].address(), in[4].address(), in[1].address(),
                in[2].address(), out[1].address(), out[2].address());
        gpu.launch("ls_bn_out_backward_dx_k", total, total, c, hw, (long) n * hw, in[0].address(), in[4].address(),
                in[1].address(), in[2].address(), in[3].address(), out[1].address(), out[2].address(), out[0].address());
    }

    /** in = {x, gamma, beta}; out = {y, saveMean, saveInvStd}: one block per (sample, group). Stock GN only. */
    public static void groupNorm(GroupNorm op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        OpException.check(!op.inPlace(), op.name() + " has no cuda kernel yet (Ops table)");
        Shape s = in[0].spec().shape();
        gpu.launchBlocks("ls_gn_forward_k", NormShapes.batch(s) * op.groups(), NormShapes.channels(s), NormShapes.spatial(s),
                op.groups(), op.eps(), in[0].address(), in[1].address(), in[2].address(), out[0].address(), out[1].address(),
                out[2].address());
    }

    /** in = {x, gamma, saveMean, saveInvStd, dY}; out = {dX, dGamma, dBeta}. From x only. */
    public static void groupNormBackward(GroupNormBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        OpException.check(op.source() == GroupNormBackward.Source.X, op.name() + " has no cuda kernel yet (Ops table)");
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        gpu.launchBlocks("ls_gn_backward_dx_k", n * op.groups(), c, hw, op.groups(), in[0].address(), in[1].address(),
                in[2].address(), in[3].address(), in[4].address(), out[0].address());
        gpu.launchBlocks("ls_gn_backward_params_k", c, n, c, hw, op.groups(), in[0].address(), in[2].address(), in[3].address(),
                in[4].address(), out[1].address(), out[2].address());
    }

    /** in = {x, gamma, saveMean, saveInvStd, dY}; out = {dX, dGamma, dBeta}. */
    private static void fromInput(CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long total = in[0].numel();
        gpu.launchBlocks("ls_bn_backward_reduce_k", c, n, c, hw, in[0].address(), in[4].address(), in[2].address(),
                in[3].address(), GIVEN_INV_STD, out[1].address(), out[2].address());
        gpu.launch("ls_bn_backward_dx_k", total, total, c, hw, (long) n * hw, in[0].address(), in[4].address(),
                in[1].address(), in[2].address(), in[3].address(), out[1].address(), out[2].address(), out[0].address());
    }

    /** in = {x, gamma, runningMean, runningVar, dY}; out = {dX, dGamma, dBeta}. */
    private static void eval(double eps, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        int n = NormShapes.batch(s);
        int c = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long total = in[0].numel();
        gpu.launchBlocks("ls_bn_backward_reduce_k", c, n, c, hw, in[0].address(), in[4].address(), in[2].address(),
                in[3].address(), eps, out[1].address(), out[2].address());
        gpu.launch("ls_bn_eval_backward_dx_k", total, total, c, hw, in[4].address(), in[1].address(), in[3].address(),
                eps, out[0].address());
    }
}
