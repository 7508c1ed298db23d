package org.leanseg.ops.loss;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.tensor.Shape;

/**
 * CUDA bindings of the loss ops (kernels in src/main/cuda/loss.cu and shape.cu). The cross-entropy
 * sums are reduced deterministically in two stages in the backend's workspace; an invalid label is
 * reported like the reference kernel does, which costs one 8-byte read (a stream sync) per call.
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
        int k = s.dim(1);
        long plane = (long) s.dim(2) * s.dim(3);
        long pixels = labels.numel();
        long ws = gpu.workspace(16L * PARTIAL_BLOCKS + 16 + 8);
        long result = ws + 16L * PARTIAL_BLOCKS;
        long bad = result + 16;
        long weights = op.weights() == null ? 0L : gpu.constant(op.weights());
        gpu.memset(bad, 0xFF, 8);
        gpu.launchBlocks("ls_ce_partial_k", PARTIAL_BLOCKS, pixels, k, plane, z.address(), labels.address(), op.ignoreIndex(),
                weights, lossOut != 0 ? 1 : 0, ws, bad);
        gpu.launchBlocks("ls_ce_finalize_k", 1, PARTIAL_BLOCKS, ws, result, lossOut);
        // read after the step, not here: a sync inside the step would break its capture (Note [Whole-step graphs]);
        // the kernels leave a bad pixel out of the loss and its gradient meanwhile
        String labelSpec = labels.spec().toString();
        gpu.checkAfterStep(new CudaBackend.SlotCheck(bad, badPixel -> badPixel == NO_BAD_PIXEL ? null : op.name() + ": label at flat pixel "
                + badPixel + " of " + labelSpec + " is not a class in [0, " + k + ") nor the ignore index " + op.ignoreIndex()));
        return new long[] {result, weights};
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
                op.ignoreIndex(), r[1], in[2].address(), r[0], out[0].address());
    }

    /** in = {logits}; out = {classes [N, H, W] in float slots}. */
    public static void argmax(Argmax op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        long pixels = out[0].numel();
        gpu.launch("ls_argmax_k", pixels, pixels, s.dim(1), s.dim(2) * s.dim(3), in[0].address(), out[0].address());
    }
}
