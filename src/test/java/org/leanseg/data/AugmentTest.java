package org.leanseg.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.leanseg.tensor.Shape;

/** Augmentation invariants: sizes, label values, padding, flip, the crop guard and determinism. */
class AugmentTest {
    private static final float[] ZERO = {0, 0, 0};
    private static final float[] ONE = {1, 1, 1};

    /** h x w image with R = x, G = y, B = 10; mask = (x / 4) % 3, with a 255 column at x = 0. */
    private static RgbImage image(int h, int w) {
        float[] chw = new float[3 * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                chw[y * w + x] = x;
                chw[h * w + y * w + x] = y;
                chw[2 * h * w + y * w + x] = 10;
            }
        }
        return new RgbImage(h, w, chw);
    }

    private static LabelMap mask(int h, int w) {
        int[] m = new int[h * w];
        for (int i = 0; i < m.length; i++) {
            int x = i % w;
            m[i] = x == 0 ? 255 : (x / 4) % 3;
        }
        return new LabelMap(h, w, m);
    }

    private static Augment.Settings plain(int ch, int cw, double scale, double flip) {
        return new Augment.Settings(ch, cw, scale, scale, 1, flip, null, ZERO, ONE);
    }

    @Test
    void cropSizeIsExactAndLabelsStayInClassesOrIgnore() {
        Augment aug = new Augment(Augment.Settings.defaults(33, 20));
        Set<Integer> allowed = Set.of(0, 1, 2, 255);
        for (int seed = 0; seed < 40; seed++) {
            int h = 5 + seed * 3 % 47;
            int w = 7 + seed * 5 % 41;
            Dataset.Sample s = aug.train(image(h, w), mask(h, w), new SplittableRandom(seed), "s" + seed);
            assertEquals(Shape.of(3, 33, 20), s.image().shape());
            assertEquals(Shape.of(33, 20), s.label().shape());
            for (float v : s.label().data()) {
                assertTrue(allowed.contains((int) v), "label " + v);
            }
            for (float v : s.image().data()) {
                assertTrue(Float.isFinite(v) && Math.abs(v) < 3, "normalised value " + v);
            }
        }
    }

    @Test
    void sameSeedSameSampleOtherSeedOtherSample() {
        Augment aug = new Augment(Augment.Settings.defaults(16, 16));
        Dataset.Sample a = aug.train(image(30, 40), mask(30, 40), new SplittableRandom(99), "a");
        Dataset.Sample b = aug.train(image(30, 40), mask(30, 40), new SplittableRandom(99), "a");
        Dataset.Sample c = aug.train(image(30, 40), mask(30, 40), new SplittableRandom(100), "a");
        assertArrayEquals(a.image().data(), b.image().data());
        assertArrayEquals(a.label().data(), b.label().data());
        assertFalse(java.util.Arrays.equals(a.image().data(), c.image().data()));
    }

    @Test
    void smallImagesArePaddedWithMeanAndIgnore() {
        float[] mean = {50, 60, 70};
        float[] std = {2, 2, 2};
        Augment aug = new Augment(new Augment.Settings(12, 10, 1, 1, 1, 0, null, mean, std));
        Dataset.Sample s = aug.train(image(5, 7), mask(5, 7), new SplittableRandom(1), "p");
        for (int y = 0; y < 12; y++) {
            for (int x = 0; x < 10; x++) {
                boolean inside = y < 5 && x < 7;
                assertEquals(inside ? mask(5, 7).at(y, x) : 255, (int) s.label().get(y, x));
                float r = s.image().get(0, y, x);
                assertEquals(inside ? (x - 50) / 2f : 0f, r, 1e-6, "pad is the mean: 0 after normalisation");
                assertEquals(inside ? (10 - 70) / 2f : 0f, s.image().get(2, y, x), 1e-6);
            }
        }
    }

    @Test
    void flipMirrorsImageAndMaskTogether() {
        Augment aug = new Augment(plain(6, 9, 1, 1));
        Dataset.Sample s = aug.train(image(6, 9), mask(6, 9), new SplittableRandom(5), "f");
        for (int x = 0; x < 9; x++) {
            assertEquals(8 - x, s.image().get(0, 2, x), 1e-6);
            assertEquals(mask(6, 9).at(2, 8 - x), (int) s.label().get(2, x));
        }
    }

    @Test
    void scaleUsesBilinearImagesAndNearestMasks() {
        float[] chw = {0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4}; // 2x2 per channel, rows [0, 4]
        RgbImage im = new RgbImage(2, 2, chw);
        float[] up = Resample.bilinearWindow(im, 4, 4, 0, 0, 4, 4);
        assertArrayEquals(new float[] {0, 1, 3, 4}, java.util.Arrays.copyOf(up, 4), 1e-6f); // OpenCV INTER_LINEAR
        float[] window = Resample.bilinearWindow(im, 4, 4, 1, 1, 2, 2);
        assertArrayEquals(new float[] {1, 3, 1, 3}, java.util.Arrays.copyOf(window, 4), 1e-6f);
        int[] m = Resample.nearest(new LabelMap(1, 3, new int[] {1, 255, 2}), 1, 7);
        assertArrayEquals(new int[] {1, 1, 1, 255, 255, 2, 2}, m);

        Augment twice = new Augment(plain(40, 40, 2, 0));
        Dataset.Sample s = twice.train(image(20, 20), mask(20, 20), new SplittableRandom(0), "x2");
        for (float v : s.label().data()) {
            assertTrue(v == 0 || v == 1 || v == 2 || v == 255, "nearest keeps labels: " + v);
        }
        assertEquals(0.25f, s.image().get(0, 10, 1), 1e-5, "bilinear between 0 and 1");
    }

    @Test
    void categoryRatioGuardAvoidsOneClassCrops() {
        // 64x64 mask: class 1 only in a 16x16 corner. A 24x24 crop mostly sees class 0 alone.
        int[] m = new int[64 * 64];
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                m[y * 64 + x] = 1;
            }
        }
        LabelMap mask = new LabelMap(64, 64, m);
        RgbImage im = image(64, 64);
        int guarded = 0;
        int unguarded = 0;
        for (int seed = 0; seed < 100; seed++) {
            guarded += balanced(new Augment(new Augment.Settings(24, 24, 1, 1, 0.75, 0, null, ZERO, ONE))
                    .train(im, mask, new SplittableRandom(seed), "g"));
            unguarded += balanced(new Augment(plain(24, 24, 1, 0)).train(im, mask, new SplittableRandom(seed), "u"));
        }
        // ~2% of crop positions are balanced; the guard's 11 draws find one ~20% of the time.
        assertTrue(unguarded < 8, "without the guard few crops are balanced: " + unguarded);
        assertTrue(guarded >= 15 && guarded > 5 * unguarded, "guard: " + guarded + " vs " + unguarded);
    }

    private static int balanced(Dataset.Sample s) {
        int ones = 0;
        for (float v : s.label().data()) {
            ones += v == 1 ? 1 : 0;
        }
        int n = s.label().data().length;
        return ones > 0 && Math.max(ones, n - ones) < 0.75 * n ? 1 : 0;
    }

    @Test
    void photometricStaysInRangeAndIsDeterministic() {
        float[] a = image(8, 8).chw();
        for (int i = 0; i < a.length; i++) {
            a[i] = (i * 37) % 256;
        }
        float[] b = a.clone();
        Photometric p = new Photometric(60, 0.2, 3, 0, 3, 90);
        for (int k = 0; k < 20; k++) {
            p.apply(a, 64, new SplittableRandom(k));
            p.apply(b, 64, new SplittableRandom(k));
        }
        assertArrayEquals(a, b);
        for (float v : a) {
            assertTrue(v >= 0 && v <= 255, "in range: " + v);
        }
    }

    @Test
    void hueAndSaturationRoundTripWhenNeutral() {
        float[] rgb = {200, 10, 90, 30, 250, 0, 5, 60, 240}; // three pixels, planar
        float[] copy = rgb.clone();
        new Photometric(0, 1, 1, 1, 1, 0).apply(copy, 3, new SplittableRandom(3));
        assertArrayEquals(rgb, copy, 1e-3f, "identity settings leave colours unchanged through HSV");
    }

    @Test
    void wholeImageIsOnlyNormalised() {
        Augment aug = new Augment(Augment.Settings.defaults(8, 8));
        Dataset.Sample s = aug.whole(image(5, 11), mask(5, 11), "w");
        assertEquals(Shape.of(3, 5, 11), s.image().shape());
        assertEquals((7 - 123.675f) / 58.395f, s.image().get(0, 3, 7), 1e-5);
        assertEquals(mask(5, 11).at(4, 10), (int) s.label().get(4, 10));
    }
}
