package org.leanseg.ops.conv;

import java.util.Arrays;
import org.leanseg.tensor.ShapeMath;

/**
 * Copies one strided, zero-padded row of an input plane into a zero-offset buffer:
 * {@code dst[dOff + j] = src[rowBase + j*stride + offset]} when that index lies in {@code [0, width)},
 * else 0. im2col packing and the depthwise kernels use it so that their arithmetic loops index every
 * array by plain {@code j}, which is what lets HotSpot vectorise them (see {@code Sgemm}).
 */
final class RowGather {
    private RowGather() {
    }

    static void gather(float[] src, int rowBase, int width, int offset, int stride, float[] dst, int dOff, int count) {
        gather(src, rowBase, width, offset, stride, dst, dOff, 0, count);
    }

    /** As {@link #gather(float[], int, int, int, int, float[], int, int)} for output indices {@code [from, from+count)}. */
    static void gather(float[] src, int rowBase, int width, int offset, int stride, float[] dst, int dOff, int from, int count) {
        int end = from + count;
        int lo = Math.max(from, ShapeMath.convValidStart(offset, stride));
        int hi = Math.min(end, ShapeMath.convValidEnd(width, offset, stride, end));
        if (hi <= lo) {
            Arrays.fill(dst, dOff, dOff + count, 0f);
            return;
        }
        int d = dOff - from;
        Arrays.fill(dst, dOff, d + lo, 0f);
        if (stride == 1) {
            System.arraycopy(src, rowBase + lo + offset, dst, d + lo, hi - lo);
        } else {
            for (int j = lo; j < hi; j++) {
                dst[d + j] = src[rowBase + j * stride + offset];
            }
        }
        Arrays.fill(dst, d + hi, dOff + count, 0f);
    }
}
