package org.leanseg.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.data.Dataset;
import org.leanseg.data.Resample;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** Multi-scale inference: scale 1.0 is the plain path exactly; other scales resize in and back and average. */
class MultiScaleTest {
    private final VariableStore store = new VariableStore();
    private final DeepLabV3Plus model = model(store);
    private final int classes = model.config().numClasses();

    private static DeepLabV3Plus model(VariableStore store) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        m.params().initialize(store, 11);
        return m;
    }

    private Evaluator evaluator(Inference inference) {
        return new Evaluator(model, new ReferenceBackend(), store, 1, inference);
    }

    private static Tensor image(int h, int w, long seed) {
        return SlideInferenceTest.randomData(5, new int[][] {{h, w}}, seed).get(0, null).image();
    }

    @Test
    void scaleOneIsThePlainPathExactly() {
        Tensor img = image(30, 22, 1);
        for (Inference plain : List.of(Inference.whole(false), Inference.whole(true), Inference.slide(16, 16, 10, 10, true))) {
            try (Evaluator a = evaluator(plain);
                 Evaluator one = evaluator(plain.withScales(List.of(1.0)));
                 Evaluator twice = evaluator(plain.withScales(List.of(1.0, 1.0)))) {
                float[] expected = a.logits(img);
                assertArrayEquals(expected, one.logits(img), plain.describe());
                assertArrayEquals(expected, twice.logits(img), "(x + x) / 2 is x: " + plain.describe());
                assertArrayEquals(a.segment(img), twice.segment(img), plain.describe());
            }
        }
    }

    @Test
    void otherScalesResizeInAndBackAndAverage() {
        int h = 30;
        int w = 22;
        Tensor img = image(h, w, 2);
        int sh = Inference.scaled(h, 0.5);
        int sw = Inference.scaled(w, 0.5);
        assertEquals(List.of(15, 11), List.of(sh, sw));
        try (Evaluator plain = evaluator(Inference.whole(false));
             Evaluator half = evaluator(Inference.whole(false).withScales(List.of(0.5)));
             Evaluator both = evaluator(Inference.whole(false).withScales(List.of(0.5, 1.0)))) {
            Tensor small = new Tensor(TensorSpec.f32(3, sh, sw), Resample.bilinear(img.data(), 3, h, w, sh, sw));
            float[] expected = Resample.bilinear(plain.logits(small), classes, sh, sw, h, w);
            assertArrayEquals(expected, half.logits(img));
            float[] full = plain.logits(img);
            float[] mean = both.logits(img);
            assertEquals(classes * h * w, mean.length);
            for (int i = 0; i < mean.length; i++) {
                assertEquals((expected[i] + full[i]) / 2, mean[i], 1e-5f);
            }
        }
    }

    @Test
    void multiScaleRunsGiveTheImageSize() {
        Dataset data = SlideInferenceTest.randomData(classes, new int[][] {{30, 22}, {17, 41}}, 3);
        Inference ms = Inference.slide(16, 16, 10, 10, true).withScales(List.of(0.75, 1.0, 1.25));
        assertEquals("slide 16x16 stride 10x10 + flip, scales [0.75, 1.0, 1.25]", ms.describe());
        try (Evaluator ev = evaluator(ms)) {
            for (int i = 0; i < data.size(); i++) {
                Tensor img = data.get(i, null).image();
                float[] labels = ev.segment(img);
                assertEquals(img.shape().dim(1) * img.shape().dim(2), labels.length);
                for (float v : labels) {
                    assertTrue(v >= 0 && v < classes, "label " + v);
                }
            }
            ConfusionMatrix cm = ev.evaluate(data, null);
            assertTrue(cm.pixelAccuracy() >= 0 && cm.pixelAccuracy() <= 1);
        }
        assertThrows(IllegalArgumentException.class, () -> Inference.whole(false).withScales(List.of()));
        assertThrows(IllegalArgumentException.class, () -> Inference.whole(false).withScales(List.of(0.0)));
    }
}
