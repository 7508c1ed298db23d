package org.leanseg.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.data.Dataset;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** Slide and flip inference: window grid, full-cover equality with whole mode, padding, closeness on larger images. */
class SlideInferenceTest {

    /** Random images of the given sizes with random labels (some 255). */
    static Dataset randomData(int classes, int[][] sizes, long seed) {
        return new Dataset() {
            @Override
            public int size() {
                return sizes.length;
            }

            @Override
            public int numClasses() {
                return classes;
            }

            @Override
            public List<String> classNames() {
                return List.of();
            }

            @Override
            public Sample get(int index, SplittableRandom rnd) {
                Random r = new Random(seed + index);
                int h = sizes[index][0];
                int w = sizes[index][1];
                float[] img = new float[3 * h * w];
                float[] lab = new float[h * w];
                for (int i = 0; i < img.length; i++) {
                    img[i] = (float) r.nextGaussian();
                }
                for (int i = 0; i < lab.length; i++) {
                    lab[i] = r.nextInt(10) == 0 ? 255 : r.nextInt(classes);
                }
                return new Sample(new Tensor(TensorSpec.f32(3, h, w), img), new Tensor(TensorSpec.f32(h, w), lab), "r" + index);
            }
        };
    }

    private static DeepLabV3Plus model(VariableStore store) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        m.params().initialize(store, 7);
        return m;
    }

    @Test
    void windowGridFollowsMmsegmentation() {
        Inference s = Inference.slide(64, 64, 32, 32, false);
        List<Inference.Window> w = s.windows(100, 64);
        assertEquals(3, w.size());
        assertEquals(new Inference.Window(0, 0, 64, 64), w.get(0));
        assertEquals(new Inference.Window(32, 0, 96, 64), w.get(1));
        assertEquals(new Inference.Window(36, 0, 100, 64), w.get(2));
        // smaller than the crop: one clipped window
        assertEquals(List.of(new Inference.Window(0, 0, 20, 30)), s.windows(20, 30));
    }

    @Test
    void slideWithFullCoverCropEqualsWholeMode() {
        VariableStore store = new VariableStore();
        DeepLabV3Plus m = model(store);
        int classes = m.config().numClasses();
        Dataset data = randomData(classes, new int[][] {{32, 32}, {32, 32}, {32, 32}}, 1);
        try (Evaluator whole = new Evaluator(m, new ReferenceBackend(), store, 2);
             Evaluator slide = new Evaluator(m, new ReferenceBackend(), store, 1, Inference.slide(32, 32, 16, 16, false))) {
            for (int i = 0; i < data.size(); i++) {
                Tensor img = data.get(i, null).image();
                assertArrayEquals(whole.segment(img), slide.segment(img), "image " + i);
            }
            ConfusionMatrix a = whole.evaluate(data, null);
            ConfusionMatrix b = slide.evaluate(data, null);
            assertEquals(a.meanIoU(), b.meanIoU(), 0.0);
            assertEquals(a.pixelAccuracy(), b.pixelAccuracy(), 0.0);
        }
    }

    @Test
    void slideOnLargerAndSmallerImagesRunsAndIsCloseToWhole() {
        VariableStore store = new VariableStore();
        DeepLabV3Plus m = model(store);
        int classes = m.config().numClasses();
        // 48x56 needs 2x3 overlapping windows; 24x20 is smaller than the crop: one window of its size
        Dataset data = randomData(classes, new int[][] {{48, 56}, {24, 20}}, 3);
        try (Evaluator whole = new Evaluator(m, new ReferenceBackend(), store, 1);
             Evaluator slide = new Evaluator(m, new ReferenceBackend(), store, 1, Inference.slide(32, 32, 16, 16, true))) {
            Tensor img = data.get(0, null).image();
            float[] a = whole.segment(img);
            float[] b = slide.segment(img);
            assertEquals(48 * 56, b.length);
            int same = 0;
            for (int i = 0; i < a.length; i++) {
                same += a[i] == b[i] ? 1 : 0;
            }
            double agreement = same / (double) a.length;
            assertTrue(agreement > 0.5, "slide/whole pixel agreement " + agreement);
            ConfusionMatrix cm = slide.evaluate(data, null);
            assertEquals(48 * 56 + 24 * 20, total(cm) + ignored(data), "every labelled pixel is counted once");
        }
    }

    @Test
    void flipAveragesMirroredLogits() {
        VariableStore store = new VariableStore();
        DeepLabV3Plus m = model(store);
        int classes = m.config().numClasses();
        Tensor img = randomData(classes, new int[][] {{32, 24}}, 5).get(0, null).image();
        try (Evaluator plain = new Evaluator(m, new ReferenceBackend(), store, 1, Inference.whole(false));
             Evaluator flip = new Evaluator(m, new ReferenceBackend(), store, 1, Inference.whole(true))) {
            float[] a = plain.logits(img);
            float[] mirroredInput = SlideMath.flip(img.data(), 3, 32, 24);
            float[] b = SlideMath.flip(plain.logits(new Tensor(TensorSpec.f32(3, 32, 24), mirroredInput)), classes, 32, 24);
            float[] f = flip.logits(img);
            for (int i = 0; i < f.length; i++) {
                assertEquals((a[i] + b[i]) * 0.5f, f[i], 1e-6f);
            }
        }
    }

    private static long total(ConfusionMatrix cm) {
        long n = 0;
        for (int t = 0; t < cm.classes(); t++) {
            for (int p = 0; p < cm.classes(); p++) {
                n += cm.count(t, p);
            }
        }
        return n;
    }

    private static long ignored(Dataset d) {
        long n = 0;
        for (int i = 0; i < d.size(); i++) {
            for (float v : d.get(i, null).label().data()) {
                n += v == 255 ? 1 : 0;
            }
        }
        return n;
    }
}
