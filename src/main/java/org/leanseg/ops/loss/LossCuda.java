package org.leanseg.ops.loss;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.backend.cuda.UpLossGrid;
import org.leanseg.tensor.Shape;

/**
 * CUDA bindings of the loss ops (kernels in src/main/cuda/loss.cu, upsample_loss.cuh and shape.cu).
 * The cross-entropy sums are reduced deterministically in two stages in the backend's workspace; an
 * invalid label's first pixel is kept in a device slot and reported after the step
 * ({@link CudaBackend#checkAfterStep}), as the reference reports it. The fused upsample +
 * cross-entropy (Note [Fused upsample loss on the GPU]) never stores the full-resolution logits.
 */
public final class LossCuda {
    /** Blocks of the partial-sum stage: fixed, so the reduction order (and the bits) never change. */
    private static final int PARTIAL_BLOCKS = 512;
    private static final long NO_BAD_PIXEL = -1L;   // 0xFF.. as unsigned: atomicMin keeps the smallest index

    private LossCuda() {
    }

    /** Workspace layout: [partials: 2 doubles per block][result: 2 doubles][bad pixel: 1 u64]. */
    private static long[] reduce(SoftmaxCrossEntropyOp op, CudaBackend gpu, CudaView z, CudaView labels, long lossOut) {
        Shape s = z.spec().shape();
        return reduce(op, gpu, s.dim(1), (long) s.dim(2) * s.dim(3), lossOut != 0 ? z.address() : 0L, labels, lossOut,
                CudaBackend.typeCode(z.spec()));
    }

    /**
     * The two-stage sums over the labels (and with {@code z} not 0 the logits [N, k, plane]): result[0] = sum of
     * w * nll, result[1] = sum of w over the valid pixels; lossOut (not 0) = their ratio. Returns {result, weights}.
     */
    private static long[] reduce(SoftmaxCrossEntropyOp op, CudaBackend gpu, int k, long plane, long z, CudaView labels, long lossOut,
                                 int dt) {
        long pixels = labels.numel();
        long ws = gpu.workspace(16L * PARTIAL_BLOCKS + 16 + 8);
        long result = ws + 16L * PARTIAL_BLOCKS;
        long bad = result + 16;
        long weights = op.weights() == null ? 0L : gpu.constant(op.weights());
        gpu.memset(bad, 0xFF, 8);
        gpu.launchBlocks("ls_ce_partial_k", PARTIAL_BLOCKS, partialArgs(pixels, k, plane, z, labels.address(), op.ignoreIndex(), weights,
                ws, bad, dt));
        gpu.launchBlocks("ls_ce_finalize_k", 1, PARTIAL_BLOCKS, ws, result, lossOut);
        checkLabelsAfterStep(op, gpu, k, labels, bad);
        return new long[] {result, weights};
    }

    /** Arguments of ls_ce_partial_k; z 0: the weights and the label check only (no loss); dt: z's storage type. */
    public static Object[] partialArgs(long pixels, int k, long plane, long z, long labels, int ignoreIndex, long weights, long partials,
                                       long bad, int dt) {
        return new Object[] {pixels, k, plane, z, labels, ignoreIndex, weights, z != 0 ? 1 : 0, partials, bad, dt};
    }

    /**
     * Reads the bad-label slot after the step, not here: a sync inside the step would break its capture (Note
     * [Whole-step graphs]); the kernels leave a bad pixel out of the loss and its gradient meanwhile.
     */
    private static void checkLabelsAfterStep(SoftmaxCrossEntropyOp op, CudaBackend gpu, int k, CudaView labels, long bad) {
        String labelSpec = labels.spec().toString();
        gpu.checkAfterStep(new CudaBackend.SlotCheck(bad, badPixel -> badPixel == NO_BAD_PIXEL ? null : op.name() + ": label at flat pixel "
                + badPixel + " of " + labelSpec + " is not a class in [0, " + k + ") nor the ignore index " + op.ignoreIndex()));
    }

    private static UpLossGrid grid(int outH, int outW, boolean alignCorners, int ignoreIndex, CudaView z) {
        Shape s = z.spec().shape();
        return UpLossGrid.of(s.dim(0), s.dim(1), s.dim(2), s.dim(3), outH, outW, alignCorners, ignoreIndex);
    }

    /**
     * Fused upsample + cross-entropy: in = {stride-4 logits, labels}; out = {loss [1]}. ls_up_ce_partial_k over the
     * output rows, then ls_ce_finalize_k over its partials (workspace as {@link #reduce}).
     */
    public static void upsampleCrossEntropy(UpsampleSoftmaxCrossEntropy op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        UpLossGrid g = grid(op.outH(), op.outW(), op.alignCorners(), op.ignoreIndex(), in[0]);
        SoftmaxCrossEntropyOp a = new SoftmaxCrossEntropyOp(op.name(), op.ignoreIndex(), op.classWeights());
        long ws = gpu.workspace(16L * g.rowBlocks() + 16 + 8);
        long result = ws + 16L * g.rowBlocks();
        long bad = result + 16;
        long weights = a.weights() == null ? 0L : gpu.constant(a.weights());
        gpu.memset(bad, 0xFF, 8);
        gpu.launchGrid("ls_up_ce_partial_k", g.rowBlocks(), 1, UpLossGrid.BLOCK, g.args(in[0].address(), in[1].address(), weights, ws,
                bad, CudaBackend.typeCode(in[0].spec())));
        gpu.launchBlocks("ls_ce_finalize_k", 1, g.rowBlocks(), ws, result, out[0].address());
        checkLabelsAfterStep(a, gpu, g.k(), in[1], bad);
    }

    /**
     * Its backward: in = {stride-4 logits, labels, dLoss}; out = {dLogits}. The valid pixels' weight total (and the
     * bad-label check) from the labels alone, then the gather ls_up_ce_backward_k.
     */
    public static void upsampleCrossEntropyBackward(UpsampleSoftmaxCrossEntropyBackward op, CudaBackend gpu, CudaView[] in,
                                                    CudaView[] out) {
        UpLossGrid g = grid(op.outH(), op.outW(), op.alignCorners(), op.ignoreIndex(), in[0]);
        SoftmaxCrossEntropyOp a = new SoftmaxCrossEntropyOp(op.name(), op.ignoreIndex(), op.classWeights());
        long[] r = reduce(a, gpu, g.k(), 1, 0L, in[1], 0L, 0);   // labels only: no logits, so no plane (1 keeps it non-zero)
        gpu.launchGrid("ls_up_ce_backward_k", g.backwardGridX(), g.backwardGridY(), UpLossGrid.BLOCK, g.args(in[0].address(),
                in[1].address(), r[1], in[2].address(), r[0], out[0].address(), CudaBackend.typeCode(in[0].spec())));
    }

    /** The attributes both cross-entropy ops share. */
    private record SoftmaxCrossEntropyOp(String name, int ignoreIndex, float[] weights) {
    }

    /** in = {logits, labels}; out = {loss [1]}. */
    public static void crossEntropy(SoftmaxCrossEntropy op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        reduce(new SoftmaxCrossEntropyOp(op.name(), op.ignoreIndex(), op.classWeights()), gpu, in[0], in[1], out[0].address());
    }

    /** in = {logits, labels, dLoss}; out = {dLogits}. */
    public static void crossEntropyBackward(SoftmaxCrossEntropyBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        SoftmaxCrossEntropyOp a = new SoftmaxCrossEntropyOp(op.name(), op.ignoreIndex(), op.classWeights());
        long[] r = reduce(a, gpu, in[0], in[1], 0L);
        Shape s = in[0].spec().shape();
        long pixels = in[1].numel();
        gpu.launch("ls_ce_backward_k", pixels, pixels, s.dim(1), (long) s.dim(2) * s.dim(3), in[0].address(), in[1].address(),
                op.ignoreIndex(), r[1], in[2].address(), r[0], out[0].address(), CudaBackend.typeCode(in[0].spec()));
    }

    /** Eval mask of the upsampled logits: in = {stride-4 logits}; out = {classes [N, outH, outW] in float slots}. */
    public static void upsampleArgmax(UpsampleArgmax op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        UpLossGrid g = grid(op.outH(), op.outW(), op.alignCorners(), 0, in[0]);
        gpu.launchGrid("ls_up_argmax_k", g.argmaxGridX(), 1, UpLossGrid.BLOCK, g.args(in[0].address(), out[0].address(),
                CudaBackend.typeCode(in[0].spec())));
    }

    /** in = {logits}; out = {classes [N, H, W] in float slots}. */
    public static void argmax(Argmax op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        long pixels = out[0].numel();
        gpu.launch("ls_argmax_k", pixels, pixels, s.dim(1), s.dim(2) * s.dim(3), in[0].address(), out[0].address(),
                CudaBackend.typeCode(in[0].spec()));
    }
}
