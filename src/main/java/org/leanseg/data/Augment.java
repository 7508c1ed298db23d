package org.leanseg.data;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The training augmentation of image and mask together, in mmsegmentation's order for
 * DeepLabV3+: random scale (bilinear image, nearest mask), random crop with a category-ratio
 * guard, horizontal flip, photometric distortion, normalisation, and padding to the crop size
 * (image with the mean, i.e. 0 after normalisation; mask with 255). {@link #whole} is the
 * evaluation path: the whole image, normalised, nothing random.
 *
 * <p>Every random choice comes from the {@link SplittableRandom} passed in, drawn in a fixed
 * order, so (seed, epoch, index) fix the sample whatever thread makes it.
 *
 * <pre>{@code
 * Augment aug = new Augment(Augment.Settings.defaults(512, 512));
 * Dataset.Sample s = aug.train(image, mask, new SplittableRandom(42), "2007_000032");
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=AugmentTest}.
 */
public final class Augment {
    /** mmseg's {@code RandomCrop}: give up after this many crops and keep the last. */
    private static final int CROP_TRIES = 10;

    /**
     * @param cropHeight training crop rows
     * @param cropWidth training crop columns
     * @param scaleMin smallest random scale factor
     * @param scaleMax largest random scale factor
     * @param catMaxRatio re-draw a crop when one class covers at least this share of its labelled
     *     pixels (mmseg's {@code cat_max_ratio}); 1 turns the guard off
     * @param flipProbability chance of a horizontal flip
     * @param photometric the colour distortion, or null for none
     * @param mean per-channel RGB mean in [0, 255] units
     * @param std per-channel RGB standard deviation in [0, 255] units
     */
    public record Settings(int cropHeight, int cropWidth, double scaleMin, double scaleMax, double catMaxRatio,
            double flipProbability, Photometric photometric, float[] mean, float[] std) {
        private static final float[] IMAGENET_MEAN = {123.675f, 116.28f, 103.53f};
        private static final float[] IMAGENET_STD = {58.395f, 57.12f, 57.375f};

        /** ImageNet's RGB mean in [0, 255] units (a copy). */
        public static float[] imagenetMean() {
            return IMAGENET_MEAN.clone();
        }

        /** ImageNet's RGB standard deviation in [0, 255] units (a copy). */
        public static float[] imagenetStd() {
            return IMAGENET_STD.clone();
        }

        public Settings {
            if (cropHeight < 1 || cropWidth < 1) {
                throw new IllegalArgumentException("crop size must be positive, got " + cropHeight + "x" + cropWidth);
            }
            if (!(scaleMin > 0 && scaleMin <= scaleMax)) {
                throw new IllegalArgumentException("scale range must satisfy 0 < min <= max, got [" + scaleMin + ", "
                        + scaleMax + "]");
            }
            if (mean.length != 3 || std.length != 3) {
                throw new IllegalArgumentException("mean and std need 3 values (R, G, B)");
            }
            mean = mean.clone();
            std = std.clone();
        }

        /** Scale 0.5–2.0, cat_max_ratio 0.75, flip 0.5, photometric distortion, ImageNet mean/std. */
        public static Settings defaults(int cropHeight, int cropWidth) {
            return new Settings(cropHeight, cropWidth, 0.5, 2.0, 0.75, 0.5, Photometric.DEFAULT, IMAGENET_MEAN,
                    IMAGENET_STD);
        }
    }

    private final Settings settings;

    public Augment(Settings settings) {
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /** A training sample of exactly the crop size: f32 [3, cropH, cropW] and i32 [cropH, cropW]. */
    public Dataset.Sample train(RgbImage image, LabelMap mask, SplittableRandom rnd, String id) {
        checkSameSize(image, mask, id);
        double scale = settings.scaleMin + (settings.scaleMax - settings.scaleMin) * rnd.nextDouble();
        int h = Math.max(1, (int) Math.round(image.height() * scale));
        int w = Math.max(1, (int) Math.round(image.width() * scale));
        int[] scaledMask = Resample.nearest(mask, h, w);
        int ch = Math.min(settings.cropHeight, h);
        int cw = Math.min(settings.cropWidth, w);
        int[] box = chooseCrop(scaledMask, h, w, ch, cw, rnd); // {y0, x0}
        float[] pixels = Resample.bilinearWindow(image, h, w, box[0], box[1], ch, cw);
        int[] labels = new int[ch * cw];
        for (int y = 0; y < ch; y++) {
            System.arraycopy(scaledMask, (box[0] + y) * w + box[1], labels, y * cw, cw);
        }
        if (rnd.nextDouble() < settings.flipProbability) {
            flip(pixels, 3, ch, cw);
            flip(labels, ch, cw);
        }
        if (settings.photometric != null) {
            settings.photometric.apply(pixels, ch * cw, rnd);
        }
        return pack(pixels, labels, ch, cw, settings.cropHeight, settings.cropWidth, settings.mean, settings.std,
                id);
    }

    /** The evaluation sample: the whole image and mask, normalised with this mean/std, no randomness. */
    public Dataset.Sample whole(RgbImage image, LabelMap mask, String id) {
        return whole(image, mask, settings.mean, settings.std, id);
    }

    /**
     * The evaluation sample with an explicit normalisation, e.g.
     * {@code Augment.whole(im, m, Settings.imagenetMean(), Settings.imagenetStd(), "a")}.
     */
    public static Dataset.Sample whole(RgbImage image, LabelMap mask, float[] mean, float[] std, String id) {
        checkSameSize(image, mask, id);
        return pack(image.chw(), mask.labels(), image.height(), image.width(), image.height(), image.width(),
                mean, std, id);
    }

    private static void checkSameSize(RgbImage image, LabelMap mask, String id) {
        if (image.height() != mask.height() || image.width() != mask.width()) {
            throw new IllegalArgumentException(id + ": image " + image.height() + "x" + image.width()
                    + " and mask " + mask.height() + "x" + mask.width() + " differ in size");
        }
    }

    /** mmseg's RandomCrop loop: re-draw while one class dominates the crop's labelled pixels. */
    private int[] chooseCrop(int[] mask, int h, int w, int ch, int cw, SplittableRandom rnd) {
        int[] box = {rnd.nextInt(h - ch + 1), rnd.nextInt(w - cw + 1)};
        if (settings.catMaxRatio >= 1) {
            return box;
        }
        int[] counts = new int[LabelMap.IGNORE + 1];
        for (int attempt = 0; attempt < CROP_TRIES; attempt++) {
            if (balanced(mask, w, box, ch, cw, counts)) {
                break;
            }
            box = new int[] {rnd.nextInt(h - ch + 1), rnd.nextInt(w - cw + 1)};
        }
        return box;
    }

    private boolean balanced(int[] mask, int w, int[] box, int ch, int cw, int[] counts) {
        Arrays.fill(counts, 0);
        for (int y = 0; y < ch; y++) {
            int row = (box[0] + y) * w + box[1];
            for (int x = 0; x < cw; x++) {
                counts[mask[row + x]]++;
            }
        }
        int classes = 0;
        int total = 0;
        int max = 0;
        for (int c = 0; c < LabelMap.IGNORE; c++) {
            if (counts[c] > 0) {
                classes++;
                total += counts[c];
                max = Math.max(max, counts[c]);
            }
        }
        return classes > 1 && max < settings.catMaxRatio * total;
    }

    /** Normalises [3, h, w] into a zero [3, outH, outW] and pads the labels with 255. */
    private static Dataset.Sample pack(float[] pixels, int[] labels, int h, int w, int outH, int outW,
            float[] means, float[] stds, String id) {
        float[] image = new float[3 * outH * outW];
        float[] label = new float[outH * outW];
        Arrays.fill(label, LabelMap.IGNORE);
        for (int c = 0; c < 3; c++) {
            float mean = means[c];
            float inv = 1f / stds[c];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    image[(c * outH + y) * outW + x] = (pixels[(c * h + y) * w + x] - mean) * inv;
                }
            }
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                label[y * outW + x] = labels[y * w + x];
            }
        }
        return new Dataset.Sample(new Tensor(TensorSpec.f32(3, outH, outW), image),
                new Tensor(TensorSpec.i32(outH, outW), label), id);
    }

    private static void flip(float[] planes, int count, int h, int w) {
        for (int row = 0; row < count * h; row++) {
            for (int a = row * w, b = a + w - 1; a < b; a++, b--) {
                float t = planes[a];
                planes[a] = planes[b];
                planes[b] = t;
            }
        }
    }

    private static void flip(int[] labels, int h, int w) {
        for (int row = 0; row < h; row++) {
            for (int a = row * w, b = a + w - 1; a < b; a++, b--) {
                int t = labels[a];
                labels[a] = labels[b];
                labels[b] = t;
            }
        }
    }
}
