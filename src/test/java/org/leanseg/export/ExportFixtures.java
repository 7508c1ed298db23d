package org.leanseg.export;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.leanseg.data.Normalization;
import org.leanseg.data.Palette;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.models.ModelConfigJson;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/** Models with weights for the export tests: the tiny oracle's, or random ones with random BN statistics. */
final class ExportFixtures {
    static final Path TINY = Path.of("..", "shared", "oracle", "tiny.safetensors");
    static final Path TINY_XCEPTION = Path.of("..", "shared", "oracle", "tiny-xception.safetensors");

    record Model(DeepLabV3Plus model, VariableStore store) {
    }

    private ExportFixtures() {
    }

    /** An oracle file's model with its {@code init/} weights, BN statistics then randomised so that folding matters. */
    static Model oracle(Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, String> meta = st.metadata();
            ModelConfig cfg = ModelConfigJson.parse(meta.get("model_config"), meta.get("batchnorm"));
            DeepLabV3Plus model = new DeepLabV3Plus(cfg);
            VariableStore store = new VariableStore();
            for (ParamSet.Entry e : model.params().entries()) {
                store.set(e.variable(), st.tensor("init/" + e.variable().name()));
            }
            randomBatchNorm(model, store, 7);
            return new Model(model, store);
        }
    }

    static boolean present(Path file) {
        return Files.isRegularFile(file);
    }

    /** {@code cfg} with seeded random weights and BN statistics. */
    static Model random(ModelConfig cfg, long seed) {
        DeepLabV3Plus model = new DeepLabV3Plus(cfg);
        VariableStore store = new VariableStore();
        model.params().initialize(store, seed);
        randomBatchNorm(model, store, seed + 1);
        return new Model(model, store);
    }

    /** γ in [0.5, 1.5], β and μ ~ ±0.2, σ² in [0.5, 2]: what a trained network's BN layers roughly hold. */
    static void randomBatchNorm(DeepLabV3Plus model, VariableStore store, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (ParamSet.Entry e : model.params().entries()) {
            String n = e.variable().name();
            float[] d = store.get(e.variable()).data();
            boolean bn = model.params().byName().containsKey(n.replaceAll("\\.[a-z_]+$", ".running_var"));
            if (!bn || n.endsWith("num_batches_tracked")) {
                continue;
            }
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (n.endsWith(".weight") ? rnd.nextDouble(0.5, 1.5)
                        : n.endsWith(".running_var") ? rnd.nextDouble(0.5, 2.0) : rnd.nextDouble(-0.2, 0.2));
            }
        }
    }

    static ExportMetadata metadata(DeepLabV3Plus model) {
        return ExportMetadata.of(Normalization.imagenet(), null, Palette.voc(), model.config().numClasses(), model.config().toString());
    }

    /** LeanSeg's eval forward (reference backend) of images [N, 3, H, W]. */
    static Tensor leanseg(Model m, Tensor image) {
        OnnxExporter.Traced t = OnnxExporter.trace(m.model(), image.shape());
        try (Executor ex = new Executor(t.graph(), new ReferenceBackend(), m.store())) {
            ex.run(Map.of(t.image(), image));
            return ex.read(t.logits());
        }
    }

    /** max |a − ref| / max |ref|. */
    static double relMax(Tensor a, Tensor ref) {
        if (!a.shape().equals(ref.shape())) {
            throw new AssertionError("shapes differ: " + a.shape() + " vs " + ref.shape());
        }
        double m = 0;
        for (int i = 0; i < a.data().length; i++) {
            double d = Math.abs((double) a.data()[i] - ref.data()[i]);
            m = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(m, d);
        }
        return m / Math.max(ref.maxAbs(), 1e-12);
    }

    /** Per pixel, whether the argmax over classes of {@code a} and {@code b} [N, K, H, W] agrees; returns the count that agree. */
    static long argmaxAgree(Tensor a, Tensor b) {
        Shape s = a.shape();
        int k = s.dim(1);
        int plane = s.dim(2) * s.dim(3);
        long agree = 0;
        for (int n = 0; n < s.dim(0); n++) {
            for (int p = 0; p < plane; p++) {
                agree += argmax(a.data(), n, k, plane, p) == argmax(b.data(), n, k, plane, p) ? 1 : 0;
            }
        }
        return agree;
    }

    private static int argmax(float[] d, int n, int k, int plane, int p) {
        int best = 0;
        for (int c = 1; c < k; c++) {
            if (d[(n * k + c) * plane + p] > d[(n * k + best) * plane + p]) {
                best = c;
            }
        }
        return best;
    }
}
