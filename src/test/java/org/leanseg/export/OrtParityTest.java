package org.leanseg.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.Datasets;

/**
 * Exported models run in ONNX Runtime give LeanSeg's eval-forward logits (≤ 1e-4 relative max)
 * and argmax masks (≥ 99.9% of pixels): the tiny oracle models, both full models with random
 * weights and BN statistics on synthetic validation images, and a dynamic export run at sizes
 * other than the traced one. Check: {@code mvn -B -q test -Dtest=OrtParityTest}.
 */
class OrtParityTest {
    private static final double LOGITS_TOL = 1e-4;
    private static final double ARGMAX_AGREE = 0.999;

    @ParameterizedTest
    @ValueSource(strings = {"tiny.safetensors", "tiny-xception.safetensors"})
    void oracleModelsMatchInOrt(String file) throws IOException {
        Path p = Path.of("..", "shared", "oracle", file);
        Assumptions.assumeTrue(ExportFixtures.present(p), "no " + p);
        ExportFixtures.Model m = ExportFixtures.oracle(p);
        Tensor image = Tensor.gaussian(Shape.of(1, 3, 64, 64), 1.0, new java.util.Random(3));
        checkParity(m, image, new ExportOptions(64, 64, false, ExportOptions.DEFAULT_OPSET));
    }

    @ParameterizedTest
    @ValueSource(strings = {"deeplabv3plus_mobilenetv2", "deeplabv3plus_xception65"})
    void fullModelsMatchOnSyntheticValidationImages(String name) {
        TrainingConfig cfg = TrainingConfig.defaults();
        Dataset val = Datasets.val(cfg);
        ModelConfig mc = ModelConfig.of(name).withClasses(val.numClasses());
        ExportFixtures.Model m = ExportFixtures.random(mc, 11);
        Tensor first = val.get(0, null).image();
        int h = first.shape().dim(1);
        int w = first.shape().dim(2);
        OnnxExporter.Exported e = OnnxExporter.export(m.model(), m.store(), new ExportOptions(h, w, false, 13),
                ExportFixtures.metadata(m.model()));
        int images = 8;
        float[] batch = new float[images * 3 * h * w];
        for (int i = 0; i < images; i++) {
            System.arraycopy(val.get(i, null).image().data(), 0, batch, i * 3 * h * w, 3 * h * w);
        }
        Tensor ref = ExportFixtures.leanseg(m, Tensor.of(Shape.of(images, 3, h, w), batch)); // one LeanSeg run
        int k = mc.numClasses();
        long pixels = (long) images * h * w;
        long agree = 0;
        double worst = 0;
        try (OrtModel ort = OrtModel.of(e.model().toByteArray())) {
            for (int i = 0; i < images; i++) {
                Tensor image = Tensor.of(Shape.of(1, 3, h, w), java.util.Arrays.copyOfRange(batch, i * 3 * h * w, (i + 1) * 3 * h * w));
                Tensor refI = Tensor.of(Shape.of(1, k, h, w), java.util.Arrays.copyOfRange(ref.data(), i * k * h * w, (i + 1) * k * h * w));
                Tensor got = ort.run(image);
                worst = Math.max(worst, ExportFixtures.relMax(got, refI));
                agree += ExportFixtures.argmaxAgree(got, refI);
            }
        }
        assertTrue(worst <= LOGITS_TOL, name + ": logits differ by " + worst + " (relative max)");
        assertTrue(agree >= ARGMAX_AGREE * pixels, name + ": argmax agrees on " + agree + " of " + pixels + " pixels");
    }

    @Test
    void dynamicExportRunsAtOtherSizes() throws IOException {
        Assumptions.assumeTrue(ExportFixtures.present(ExportFixtures.TINY), "no tiny oracle");
        ExportFixtures.Model m = ExportFixtures.oracle(ExportFixtures.TINY);
        OnnxExporter.Exported e = OnnxExporter.export(m.model(), m.store(), new ExportOptions(64, 64, true, 17),
                ExportFixtures.metadata(m.model()));
        try (OrtModel ort = OrtModel.of(e.model().toByteArray())) {
            for (int[] s : new int[][] {{2, 48, 80}, {1, 37, 53}}) {
                Tensor image = Tensor.gaussian(Shape.of(s[0], 3, s[1], s[2]), 1.0, new java.util.Random(s[1]));
                Tensor ref = ExportFixtures.leanseg(m, image);
                Tensor got = ort.run(image);
                assertEquals(ref.shape(), got.shape());
                double d = ExportFixtures.relMax(got, ref);
                assertTrue(d <= LOGITS_TOL, "size " + java.util.Arrays.toString(s) + ": logits differ by " + d);
            }
        }
    }

    private static void checkParity(ExportFixtures.Model m, Tensor image, ExportOptions opts) {
        OnnxExporter.Exported e = OnnxExporter.export(m.model(), m.store(), opts, ExportFixtures.metadata(m.model()));
        Tensor ref = ExportFixtures.leanseg(m, image);
        try (OrtModel ort = OrtModel.of(e.model().toByteArray())) {
            Tensor got = ort.run(image);
            double d = ExportFixtures.relMax(got, ref);
            assertTrue(d <= LOGITS_TOL, "logits differ by " + d + " (relative max)");
            long pixels = (long) image.shape().dim(2) * image.shape().dim(3);
            assertTrue(ExportFixtures.argmaxAgree(got, ref) >= ARGMAX_AGREE * pixels);
        }
    }
}
