package org.leanseg.infer;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.Shape;

/**
 * The DeepLabV3+ configuration of a weights file without LeanSeg metadata (e.g. a PyTorch
 * state_dict saved as safetensors with torchvision names), read from its tensor names and shapes:
 * the backbone from the key names ({@code backbone.features.*} MobileNetV2, {@code backbone.blocks.*}
 * Xception-65), the classes from the classifier, the ASPP, low-level and decoder channels from
 * their convs, the width multiplier (and Xception's middle repeats) as the one whose every backbone
 * shape matches. Output stride and atrous rates leave no trace in weights; the full-size defaults
 * (16; 6, 12, 18) are assumed, and said.
 *
 * <pre>{@code
 * ModelInference.Inferred m = ModelInference.of(file);   // m.config(), m.line()
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=ModelInferenceTest}.
 */
public final class ModelInference {
    /** Width multipliers tried first (torchvision's and ours), then every 0.05 from 0.05 to 3. */
    private static final double[] COMMON_WIDTHS = {1.0, 0.5, 0.75, 0.35, 0.25, 1.4, 1.3};

    /** What was inferred and the one line that says so. */
    public record Inferred(ModelConfig config, String line) {
    }

    private ModelInference() {
    }

    public static Inferred of(SafetensorsFile f) throws IOException {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (String k : f.keys()) {
            shapes.put(k, f.spec(k).shape());
        }
        String where = f.path() + ": ";
        ModelConfig.Backbone backbone;
        if (shapes.keySet().stream().anyMatch(k -> k.startsWith("backbone.features."))) {
            backbone = ModelConfig.Backbone.MOBILENETV2;
        } else if (shapes.keySet().stream().anyMatch(k -> k.startsWith("backbone.blocks."))) {
            backbone = ModelConfig.Backbone.XCEPTION65;
        } else {
            throw new IOException(where + "no LeanSeg metadata and no backbone.features.* (MobileNetV2) or backbone.blocks.* "
                    + "(Xception-65) tensors; it is not a DeepLabV3+ state_dict LeanSeg can read");
        }
        int classes = dim0(shapes, "decoder.classifier.weight", where);
        int aspp = dim0(shapes, "aspp.convs.0.0.weight", where);
        int low = dim0(shapes, "decoder.low_proj.0.weight", where);
        int decoder = dim0(shapes, "decoder.fuse.0.0.weight", where);
        boolean aux = shapes.keySet().stream().anyMatch(k -> k.startsWith("aux."));
        ModelConfig base = ModelConfig.of(backbone.modelName()).withClasses(classes).withAuxHead(aux);
        base = base.withHead(base.atrousRates(), aspp, low, decoder);
        int middle = base.middleRepeats();
        if (backbone == ModelConfig.Backbone.XCEPTION65) {
            long blocks = shapes.keySet().stream().filter(k -> k.startsWith("backbone.blocks."))
                    .map(k -> k.split("\\.")[2]).distinct().count();
            middle = (int) blocks - 5; // 3 entry and 2 exit blocks around the middle flow
            base = base.withMiddleRepeats(middle);
        }
        for (double w : candidates()) {
            ModelConfig c = base.withWidth(w);
            if (matches(c, shapes)) {
                return new Inferred(c, f.path().getFileName() + " has no LeanSeg metadata; inferred from its tensor shapes: "
                        + backbone.modelName() + ", width " + w + (backbone == ModelConfig.Backbone.XCEPTION65 ? ", middle repeats " + middle : "")
                        + ", " + classes + " classes, ASPP/low-level/decoder channels " + aspp + "/" + low + "/" + decoder
                        + (aux ? ", aux head" : "") + "; output stride " + c.outputStride() + " and atrous rates "
                        + java.util.Arrays.toString(c.atrousRates()) + " assumed (weights do not show them)");
            }
        }
        throw new IOException(where + "no LeanSeg metadata, and no " + backbone.modelName() + " width from 0.05 to 3 matches its tensor "
                + "shapes; it is not a DeepLabV3+ state_dict LeanSeg can read");
    }

    private static List<Double> candidates() {
        List<Double> out = new java.util.ArrayList<>();
        for (double w : COMMON_WIDTHS) {
            out.add(w);
        }
        for (int k = 1; k <= 60; k++) {
            double w = k * 0.05;
            if (out.stream().noneMatch(x -> Math.abs(x - w) < 1e-9)) {
                out.add(Math.round(w * 100) / 100.0);
            }
        }
        return out;
    }

    /** Whether every parameter and buffer of the model {@code c} defines is in the file with its shape. */
    static boolean matches(ModelConfig c, Map<String, Shape> shapes) {
        DeepLabV3Plus m;
        try {
            m = new DeepLabV3Plus(c);
        } catch (IllegalArgumentException impossible) {
            return false;
        }
        for (ParamSet.Entry e : m.params().entries()) {
            Shape s = shapes.get(e.variable().name());
            if (s == null || !s.equals(e.variable().spec().shape())) {
                return false;
            }
        }
        return true;
    }

    private static int dim0(Map<String, Shape> shapes, String key, String where) throws IOException {
        Shape s = shapes.get(key);
        if (s == null || s.rank() == 0) {
            throw new IOException(where + "no LeanSeg metadata and no '" + key + "' tensor to infer the model from");
        }
        return s.dim(0);
    }
}
