package org.leanseg.backend.cuda;

import org.leanseg.ops.shape.BilinearAxis;

/**
 * The grids of the fused upsample + cross-entropy kernels (Note [Fused upsample loss on the GPU] in
 * src/main/cuda/upsample_loss.cuh), in the field order of their {@code LsUpCeGrid}: the op (logits [n, k, h, w] on
 * the stride-4 grid, output [outH, outW]), then the forward's {@code rowBlocks} and the backward's segments of
 * {@code segC} stride-4 columns ({@code segs} per row), class groups of {@code kg} ({@code groups}) and the most
 * output columns a segment's taps come from ({@code span}). Decided here only, from the shape (not the device): the
 * same shape gets the same grid and the same bits; the host build of the kernels runs the same grid
 * (HostUpsampleLossGridTest).
 *
 * <pre>{@code
 * UpLossGrid g = UpLossGrid.of(8, 21, 128, 128, 512, 512, false, 255);   // 4,096 backward blocks
 * }</pre>
 */
public record UpLossGrid(int n, int k, int h, int w, int outH, int outW, boolean alignCorners, int ignoreIndex, int rowBlocks,
                         int segC, int segs, int kg, int groups, int span) {
    /** Threads per block (LS_UPCE_BLOCK). */
    public static final int BLOCK = 256;
    /** Blocks of the forward's partial sums, at most (ls_ce_finalize_k adds them in order). */
    static final int ROW_BLOCKS = 512;
    /** Floats of the backward's staged gradients (LS_UPCE_STAGE). */
    static final int STAGE = 6144;
    /** Most output columns a backward block stages (LS_UPCE_SPAN). */
    static final int MAX_SPAN = 384;
    /** Outputs a backward thread owns, at most (LS_UPCE_PER). */
    static final int PER = 4;
    /**
     * Margin added to the measured span: the device computes the taps itself, and a fused multiply-add in its
     * source-coordinate arithmetic could move a tap that falls exactly on a boundary by one.
     */
    static final int SPAN_MARGIN = 2;

    public static UpLossGrid of(int n, int k, int h, int w, int outH, int outW, boolean alignCorners, int ignoreIndex) {
        if ((long) n * outH > Integer.MAX_VALUE || (long) n * k * h * w > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("fused loss too large for 32-bit row indices: " + n + " x " + k + " x " + h + " x " + w);
        }
        int rowBlocks = Math.max(1, Math.min(ROW_BLOCKS, n * outH));
        int[] i0 = BilinearAxis.of(w, outW, alignCorners).i0();
        for (int segC = Math.min(32, Integer.highestOneBit(w)); ; segC /= 2) {
            int span = span(i0, w, segC) + SPAN_MARGIN;
            int kg = Math.min(k, Math.min(PER * BLOCK / segC, STAGE / span));
            if (span <= MAX_SPAN && kg >= Math.min(k, 8) || segC == 1 && span <= MAX_SPAN && kg >= 1) {
                int groups = (k + kg - 1) / kg;
                int segs = (w + segC - 1) / segC;
                if ((long) n * groups > NormGrid.MAX_GRID_Y || (long) h * segs > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("fused loss grid too large: " + n + " images x " + groups + " class groups");
                }
                return new UpLossGrid(n, k, h, w, outH, outW, alignCorners, ignoreIndex, rowBlocks, segC, segs, kg, groups, span);
            }
            if (segC == 1) {
                throw new IllegalArgumentException("fused loss: an upsampling of " + w + " to " + outW
                        + " columns needs more than " + MAX_SPAN + " output columns per stride-4 column");
            }
        }
    }

    /** Most output columns whose taps reach one segment of segC input columns (taps monotone in the output index). */
    private static int span(int[] i0, int w, int segC) {
        int most = 0;
        for (int c0 = 0; c0 < w; c0 += segC) {
            int c1 = Math.min(w, c0 + segC);
            most = Math.max(most, firstAtLeast(i0, c1) - firstAtLeast(i0, c0 - 1));
        }
        return most;
    }

    private static int firstAtLeast(int[] i0, int target) {
        int j = 0;
        while (j < i0.length && i0[j] < target) {
            j++;
        }
        return j;
    }

    /** Grid x of ls_up_argmax_k: one block per output row (the kernel strides past 2^31 - 1). */
    public int argmaxGridX() {
        return (int) Math.min((long) n * outH, Integer.MAX_VALUE);
    }

    /** Grid of ls_up_ce_backward_k: x = (stride-4 row, segment), y = (image, class group). */
    public int backwardGridX() {
        return h * segs;
    }

    public int backwardGridY() {
        return n * groups;
    }

    /** The kernels' arguments: the grid fields (LS_UPCE_GRID_PARAMS), then {@code tail}. */
    public Object[] args(Object... tail) {
        Object[] head = {n, k, h, w, outH, outW, alignCorners ? 1 : 0, ignoreIndex, rowBlocks, segC, segs, kg, groups, span};
        Object[] all = new Object[head.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }

    /** The grid fields as the host build takes them. */
    public long[] hostGeometry() {
        Object[] a = args();
        long[] g = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            g[i] = ((Number) a[i]).longValue();
        }
        return g;
    }
}
