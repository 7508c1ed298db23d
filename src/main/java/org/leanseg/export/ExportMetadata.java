package org.leanseg.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.data.Normalization;
import org.leanseg.data.Palette;

/**
 * What an exported model records beside its graph ({@code metadata_props}), so that a deployment
 * preprocesses and colours as LeanSeg does: {@code normalization} ({@code {"mean": [r, g, b],
 * "std": [r, g, b]}} in 0..255 units: input = (rgb - mean) / std, NCHW, RGB order),
 * {@code class_names} (JSON list), {@code palette} (JSON list of [r, g, b], one per class),
 * {@code align_corners}, {@code model_config}, {@code input} and {@code output}.
 *
 * @param normalization the checkpoint's normalisation
 * @param classNames one name per class
 * @param palette the colours of the classes, 0xRRGGBB (or -1 for none)
 * @param modelConfig the model's configuration, readable
 */
public record ExportMetadata(Normalization normalization, List<String> classNames, int[] palette, String modelConfig) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Names "class 0".. and the palette's first colours for {@code classes} classes. */
    public static ExportMetadata of(Normalization n, List<String> names, Palette palette, int classes, String modelConfig) {
        List<String> cn = new java.util.ArrayList<>();
        int[] colours = new int[classes];
        for (int c = 0; c < classes; c++) {
            cn.add(names != null && c < names.size() ? names.get(c) : "class " + c);
            colours[c] = palette.colour(c);
        }
        return new ExportMetadata(n, cn, colours, modelConfig);
    }

    /** The metadata_props entries. */
    Map<String, String> props(boolean alignCorners) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("normalization", normalization.toJson());
        m.put("class_names", JSON.valueToTree(classNames).toString());
        ArrayNode p = JSON.createArrayNode();
        for (int rgb : palette) {
            ArrayNode c = p.addArray();
            if (rgb >= 0) {
                c.add((rgb >> 16) & 0xff).add((rgb >> 8) & 0xff).add(rgb & 0xff);
            }
        }
        m.put("palette", p.toString());
        m.put("align_corners", Boolean.toString(alignCorners));
        m.put("model_config", modelConfig);
        m.put("input", "image: float32 [N, 3, H, W], RGB, normalised as 'normalization' says");
        m.put("output", "logits: float32 [N, classes, H, W] at the input size; argmax over dim 1 is the mask");
        return m;
    }
}
