package org.leanseg.data;

/**
 * Image and mask resampling for augmentation, matching OpenCV's {@code INTER_LINEAR} (half-pixel
 * centres, PyTorch's {@code align_corners=False}) for images and {@code INTER_NEAREST}
 * ({@code src = floor(dst * in / out)}) for masks, as mmsegmentation's resize does. Masks are
 * never interpolated: a blended label would be a different class.
 *
 * <p>{@link #bilinearWindow} computes only a window of the resized image, so a random crop of a
 * 2x-upscaled image costs the crop, not the whole upscaled image.
 *
 * <pre>{@code
 * float[] crop = Resample.bilinearWindow(im, 750, 1000, 100, 200, 512, 512); // [3, 512, 512]
 * int[] m = Resample.nearest(mask, 750, 1000);
 * float[] logits = Resample.bilinear(small, 21, 281, 375, 375, 500);       // [21, 375, 500]
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=AugmentTest}.
 */
public final class Resample {
    private Resample() {
    }

    /** {@code mask} resized to outH x outW by nearest neighbour. */
    public static int[] nearest(LabelMap mask, int outH, int outW) {
        int[] xs = nearestIndex(mask.width(), outW);
        int[] out = new int[outH * outW];
        int[] src = mask.labels();
        for (int y = 0; y < outH; y++) {
            int sy = nearestIndex(mask.height(), outH, y);
            for (int x = 0; x < outW; x++) {
                out[y * outW + x] = src[sy * mask.width() + xs[x]];
            }
        }
        return out;
    }

    private static int[] nearestIndex(int in, int out) {
        int[] idx = new int[out];
        for (int i = 0; i < out; i++) {
            idx[i] = nearestIndex(in, out, i);
        }
        return idx;
    }

    private static int nearestIndex(int in, int out, int dst) {
        return Math.min((int) Math.floor(dst * (double) in / out), in - 1);
    }

    /**
     * Rows {@code y0..y0+h} and columns {@code x0..x0+w} of {@code im} resized bilinearly to
     * outH x outW, as planar RGB [3, h, w].
     */
    public static float[] bilinearWindow(RgbImage im, int outH, int outW, int y0, int x0, int h, int w) {
        return bilinearWindow(im.chw(), 3, im.height(), im.width(), outH, outW, y0, x0, h, w);
    }

    /**
     * {@code src} [channels, inH, inW] resized bilinearly to [channels, outH, outW] (half-pixel
     * centres, PyTorch's {@code align_corners=False}): images and logits for multi-scale inference.
     */
    public static float[] bilinear(float[] src, int channels, int inH, int inW, int outH, int outW) {
        return bilinearWindow(src, channels, inH, inW, outH, outW, 0, 0, outH, outW);
    }

    private static float[] bilinearWindow(float[] src, int channels, int inH, int inW, int outH, int outW, int y0,
            int x0, int h, int w) {
        if (src.length != (long) channels * inH * inW) {
            throw new IllegalArgumentException("resample: " + src.length + " values are not [" + channels + ", " + inH
                    + ", " + inW + "]");
        }
        int[] xLo = new int[w];
        int[] xHi = new int[w];
        float[] xFrac = new float[w];
        for (int x = 0; x < w; x++) {
            double sx = source(inW, outW, x0 + x);
            xLo[x] = (int) Math.floor(sx);
            xHi[x] = Math.min(xLo[x] + 1, inW - 1);
            xFrac[x] = (float) (sx - xLo[x]);
        }
        float[] out = new float[channels * h * w];
        int inPlane = inH * inW;
        for (int y = 0; y < h; y++) {
            double sy = source(inH, outH, y0 + y);
            int yLo = (int) Math.floor(sy);
            int yHi = Math.min(yLo + 1, inH - 1);
            float fy = (float) (sy - yLo);
            for (int c = 0; c < channels; c++) {
                int top = c * inPlane + yLo * inW;
                int bottom = c * inPlane + yHi * inW;
                int o = (c * h + y) * w;
                for (int x = 0; x < w; x++) {
                    float fx = xFrac[x];
                    float t = src[top + xLo[x]] + fx * (src[top + xHi[x]] - src[top + xLo[x]]);
                    float b = src[bottom + xLo[x]] + fx * (src[bottom + xHi[x]] - src[bottom + xLo[x]]);
                    out[o + x] = t + fy * (b - t);
                }
            }
        }
        return out;
    }

    /** Half-pixel source coordinate of output index {@code dst}, clamped to [0, in - 1]. */
    private static double source(int in, int out, int dst) {
        double s = (dst + 0.5) * in / out - 0.5;
        return Math.min(Math.max(s, 0), in - 1);
    }
}
