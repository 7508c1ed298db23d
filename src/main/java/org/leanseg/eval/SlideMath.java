package org.leanseg.eval;

/**
 * Array arithmetic of slide and flip inference on plain CHW float arrays: cropping a window
 * (zero-padded when asked for a larger size; zero is the mean pixel after normalisation), adding a
 * window's logits into the sum and count maps, dividing, mirroring and the per-pixel argmax. Matches
 * mmsegmentation's {@code slide_inference} ({@code preds / count_mat}).
 */
final class SlideMath {
    private SlideMath() {
    }

    /** The window of {@code image} [C=3, h, w] as [3, ch, cw], zero where the window is smaller than the crop. */
    static float[] crop(float[] image, int h, int w, Inference.Window win, int ch, int cw) {
        float[] out = new float[3 * ch * cw];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < win.height(); y++) {
                System.arraycopy(image, (c * h + win.y0() + y) * w + win.x0(), out, (c * ch + y) * cw, win.width());
            }
        }
        return out;
    }

    /** Adds the window part of {@code logits} [classes, ch, cw] into {@code sum} [classes, h, w]; counts each pixel. */
    static void accumulate(float[] sum, int[] count, int h, int w, float[] logits, int ch, int cw, Inference.Window win, int classes) {
        for (int k = 0; k < classes; k++) {
            for (int y = 0; y < win.height(); y++) {
                int dst = (k * h + win.y0() + y) * w + win.x0();
                int src = (k * ch + y) * cw;
                for (int x = 0; x < win.width(); x++) {
                    sum[dst + x] += logits[src + x];
                }
            }
        }
        for (int y = 0; y < win.height(); y++) {
            for (int x = 0; x < win.width(); x++) {
                count[(win.y0() + y) * w + win.x0() + x]++;
            }
        }
    }

    /** {@code sum[k, p] /= count[p]}; every pixel must be covered by a window. */
    static void divide(float[] sum, int[] count, int classes) {
        int plane = count.length;
        for (int p = 0; p < plane; p++) {
            if (count[p] == 0) {
                throw new IllegalStateException("slide inference left pixel " + p + " uncovered (stride larger than crop?)");
            }
        }
        for (int k = 0; k < classes; k++) {
            for (int p = 0; p < plane; p++) {
                sum[k * plane + p] /= count[p];
            }
        }
    }

    /** A copy of {@code a} [channels, h, w] mirrored left to right. */
    static float[] flip(float[] a, int channels, int h, int w) {
        float[] out = new float[a.length];
        for (int row = 0; row < channels * h; row++) {
            int base = row * w;
            for (int x = 0; x < w; x++) {
                out[base + x] = a[base + w - 1 - x];
            }
        }
        return out;
    }

    /** Per-pixel index of the largest logit (the first on ties) of [classes, plane], as floats. */
    static float[] argmax(float[] logits, int classes, int plane) {
        float[] out = new float[plane];
        for (int p = 0; p < plane; p++) {
            int best = 0;
            float bestValue = logits[p];
            for (int k = 1; k < classes; k++) {
                float v = logits[k * plane + p];
                if (v > bestValue) {
                    best = k;
                    bestValue = v;
                }
            }
            out[p] = best;
        }
        return out;
    }
}
