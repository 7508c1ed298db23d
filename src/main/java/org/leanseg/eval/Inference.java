package org.leanseg.eval;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.config.EvalConfig;

/**
 * How an image goes through the network at evaluation and prediction time: {@code whole} (the
 * full image at once) or {@code slide} (overlapping crop windows whose logits are summed and
 * divided by the per-pixel window count, as mmsegmentation's {@code slide_inference}); with
 * {@code flip}, the logits of the horizontally flipped input (flipped back) are added too; with
 * several {@code scales}, the image is resized by each, run, and the logits resized back and
 * averaged (mmsegmentation's {@code MultiScaleFlipAug} and {@code aug_test}).
 *
 * <pre>{@code
 * Inference s = Inference.slide(512, 512, 341, 341, true).withScales(List.of(0.75, 1.0, 1.25));
 * List<Inference.Window> w = s.windows(375, 500); // 2 x 2 windows
 * int h = Inference.scaled(375, 0.75);             // 281
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=SlideInferenceTest+MultiScaleTest}.
 *
 * @param mode whole or slide
 * @param cropHeight window height (slide)
 * @param cropWidth window width (slide)
 * @param strideHeight window step down (slide), at most the crop height
 * @param strideWidth window step right (slide), at most the crop width
 * @param flip also run the mirrored image and average
 * @param scales image scale factors whose logits are averaged; {@code [1.0]} is the plain pass
 */
public record Inference(EvalConfig.Mode mode, int cropHeight, int cropWidth, int strideHeight, int strideWidth, boolean flip,
                        List<Double> scales) {
    private static final List<Double> ONE = List.of(1.0);

    /** One window: rows [y0, y1), columns [x0, x1) of the image. */
    public record Window(int y0, int x0, int y1, int x1) {
        public int height() {
            return y1 - y0;
        }

        public int width() {
            return x1 - x0;
        }
    }

    public Inference {
        if (mode == EvalConfig.Mode.SLIDE && (cropHeight < 1 || cropWidth < 1 || strideHeight < 1 || strideWidth < 1
                || strideHeight > cropHeight || strideWidth > cropWidth)) {
            throw new IllegalArgumentException("slide inference needs 1 <= stride <= crop, got crop " + cropHeight + "x" + cropWidth
                    + " stride " + strideHeight + "x" + strideWidth);
        }
        scales = List.copyOf(scales);
        if (scales.isEmpty() || scales.stream().anyMatch(f -> !(f > 0 && f <= EvalConfig.MAX_SCALE))) {
            throw new IllegalArgumentException("inference scales must be a non-empty list of factors in (0, "
                    + EvalConfig.MAX_SCALE + "], got " + scales);
        }
    }

    public static Inference whole(boolean flip) {
        return new Inference(EvalConfig.Mode.WHOLE, 0, 0, 0, 0, flip, ONE);
    }

    public static Inference slide(int cropHeight, int cropWidth, int strideHeight, int strideWidth, boolean flip) {
        return new Inference(EvalConfig.Mode.SLIDE, cropHeight, cropWidth, strideHeight, strideWidth, flip, ONE);
    }

    /** These settings with other scale factors. */
    public Inference withScales(List<Double> factors) {
        return new Inference(mode, cropHeight, cropWidth, strideHeight, strideWidth, flip, factors);
    }

    /** Whether more than the plain scale 1.0 is run. */
    public boolean multiScale() {
        return !scales.equals(ONE);
    }

    /** A side of {@code size} pixels scaled by {@code factor}, rounded as mmcv's rescale does (at least 1). */
    public static int scaled(int size, double factor) {
        return Math.max(1, (int) (size * factor + 0.5));
    }

    /** The settings of a config's {@code eval:} section. */
    public static Inference of(EvalConfig e, boolean flip) {
        Inference i = e.mode() == EvalConfig.Mode.WHOLE ? whole(flip)
                : slide(e.cropSize().height(), e.cropSize().width(), e.stride().height(), e.stride().width(), flip);
        return i.withScales(e.scales());
    }

    /** A short description for logs, e.g. "slide 512x512 stride 341x341 + flip, scales [0.75, 1.0]". */
    public String describe() {
        String s = mode == EvalConfig.Mode.WHOLE ? "whole"
                : "slide " + cropHeight + "x" + cropWidth + " stride " + strideHeight + "x" + strideWidth;
        s = flip ? s + " + flip" : s;
        return multiScale() ? s + ", scales " + scales : s;
    }

    /**
     * The slide windows of an {@code h x w} image, mmsegmentation's grid: {@code max(h - crop +
     * stride - 1, 0) / stride + 1} rows of windows, the last shifted back to end at the border;
     * windows are clipped to the image when it is smaller than the crop.
     */
    public List<Window> windows(int h, int w) {
        int rows = Math.max(h - cropHeight + strideHeight - 1, 0) / strideHeight + 1;
        int cols = Math.max(w - cropWidth + strideWidth - 1, 0) / strideWidth + 1;
        List<Window> out = new ArrayList<>(rows * cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int y1 = Math.min(r * strideHeight + cropHeight, h);
                int x1 = Math.min(c * strideWidth + cropWidth, w);
                out.add(new Window(Math.max(y1 - cropHeight, 0), Math.max(x1 - cropWidth, 0), y1, x1));
            }
        }
        return out;
    }
}
