package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@code data:} section: the dataset and how training samples are cropped.
 *
 * <pre>{@code
 * DataConfig d = TrainingConfig.load(Path.of("voc.yaml"), List.of()).data();
 * if (d.type() == DataConfig.Type.SYNTHETIC) { int n = d.synthetic().trainSize(); }
 * }</pre>
 *
 * @param type {@code synthetic} (generated, no files), {@code voc} (Pascal VOC layout) or
 *     {@code folder} (images/ and labels/ folders)
 * @param root dataset directory; required unless synthetic
 * @param trainSplit split used for training (a VOC ImageSets name or a sub-folder)
 * @param valSplit split used for evaluation
 * @param numClasses label values 0..numClasses-1 (255 = ignore)
 * @param cropSize training crop [h, w]
 * @param synthetic settings of the synthetic dataset
 * @param skipBad skip unreadable or invalid samples with a warning each and a count, instead of stopping
 * @param labelMap raw mask value to class index (0..num_classes-1 or 255), applied as masks are read;
 *     unlisted values become 255. YAML: a mapping ({@code {7: 0, 8: 1}}) or a preset name
 *     ({@code cityscapes}: labelIds to the 19 trainIds). Null: masks hold class indices already
 */
public record DataConfig(Type type, String root, String trainSplit, String valSplit, int numClasses, Size2 cropSize,
        Synthetic synthetic, boolean skipBad, SortedMap<Integer, Integer> labelMap) {

    /**
     * Cityscapes' labelIds to trainIds (cityscapesScripts' {@code labels.py}: road 7 → 0 ... bicycle
     * 33 → 18); every other labelId is ignored.
     */
    public static final Map<Integer, Integer> CITYSCAPES = Map.ofEntries(Map.entry(7, 0), Map.entry(8, 1),
            Map.entry(11, 2), Map.entry(12, 3), Map.entry(13, 4), Map.entry(17, 5), Map.entry(19, 6), Map.entry(20, 7),
            Map.entry(21, 8), Map.entry(22, 9), Map.entry(23, 10), Map.entry(24, 11), Map.entry(25, 12),
            Map.entry(26, 13), Map.entry(27, 14), Map.entry(28, 15), Map.entry(31, 16), Map.entry(32, 17),
            Map.entry(33, 18));

    /** Named {@code data.label_map} tables. */
    static final Map<String, Map<Integer, Integer>> LABEL_MAP_PRESETS = Map.of("cityscapes", CITYSCAPES);

    public DataConfig {
        labelMap = labelMap == null ? null : java.util.Collections.unmodifiableSortedMap(new TreeMap<>(labelMap));
    }

    /** Dataset kinds, spelled in YAML as their lower-case names. */
    public enum Type {
        SYNTHETIC, VOC, FOLDER;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * {@code data.synthetic:} the procedurally generated shapes dataset.
     *
     * @param trainSize number of distinct training samples
     * @param valSize number of validation samples
     * @param imageSize generated image size [h, w]
     * @param seed the dataset seed: (seed, split, index) fixes every sample
     * @param maxShapes 1..maxShapes shapes per image (they overlap when more than one)
     * @param textured fraction of shapes that are striped or noisy rather than flat
     */
    public record Synthetic(int trainSize, int valSize, Size2 imageSize, long seed, int maxShapes, double textured) {
    }

    /** Synthetic shapes: background + 5 shape classes at 48x48 (at most 2 shapes, 20% textured; 100,000 train and 200 val images), no crop. */
    static DataConfig defaults() {
        return new DataConfig(Type.SYNTHETIC, null, "train", "val", 6, Size2.square(48),
                new Synthetic(100_000, 200, Size2.square(48), 0, 2, 0.2), false, null);
    }

    static DataConfig read(ConfigTree t) {
        Type type = t.choice("data.type", Type.class);
        String root = t.string("data.root", true);
        if (root == null && type != Type.SYNTHETIC) {
            throw new ConfigException("data.root: the dataset directory is required when data.type is "
                    + type.yamlName() + " (data.type " + t.source("data.type") + ")");
        }
        Synthetic synthetic = new Synthetic(
                t.integer("data.synthetic.train_size", 1, Integer.MAX_VALUE),
                t.integer("data.synthetic.val_size", 1, Integer.MAX_VALUE),
                t.size("data.synthetic.image_size"),
                t.longInteger("data.synthetic.seed"),
                t.integer("data.synthetic.max_shapes", 1, 16),
                t.real("data.synthetic.textured", 0, false, 1));
        int numClasses = t.integer("data.num_classes", 1, 255);
        return new DataConfig(type, root,
                t.string("data.train_split", false),
                t.string("data.val_split", false),
                numClasses,
                t.size("data.crop_size"),
                synthetic,
                t.bool("data.skip_bad"),
                labelMap(t, "data.label_map", numClasses, LABEL_MAP_PRESETS));
    }

    /**
     * A table of raw mask values (0..65535) to class indices (below {@code numClasses}, or 255), or
     * null: a YAML mapping, or the name of one of {@code presets}.
     */
    private static SortedMap<Integer, Integer> labelMap(ConfigTree t, String path, int numClasses,
            Map<String, Map<Integer, Integer>> presets) {
        JsonNode n = t.node(path);
        if (n.isNull()) {
            return null;
        }
        Map<Integer, Integer> table;
        if (n.isTextual() && presets.containsKey(n.textValue())) {
            table = presets.get(n.textValue());
        } else if (n.isObject() && !n.isEmpty()) {
            table = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int raw;
                try {
                    raw = Integer.parseInt(e.getKey().trim());
                } catch (NumberFormatException x) {
                    raw = -1;
                }
                if (raw < 0 || raw > 65535 || !e.getValue().isIntegralNumber()) {
                    throw t.bad(path, "entry " + e.getKey() + ": " + ConfigTree.show(e.getValue()) + " is not 'raw value: "
                            + "class index' with a raw value in 0..65535 and an integer class index");
                }
                table.put(raw, e.getValue().intValue());
            }
        } else {
            throw t.bad(path, ConfigTree.show(n) + " is not a mapping of raw mask values to class indices (e.g. {7: 0, 8: 1}) or a "
                    + "preset (" + String.join(", ", new TreeSet<>(presets.keySet())) + ")");
        }
        TreeMap<Integer, Integer> sorted = new TreeMap<>(table);
        int classes = sorted.values().stream().filter(v -> v != 255).mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (n.isTextual() && classes > numClasses) {
            throw t.bad(path, "the " + n.textValue() + " preset maps to " + classes + " classes (0.." + (classes - 1)
                    + ") but data.num_classes is " + numClasses + "; set data.num_classes=" + classes);
        }
        for (Map.Entry<Integer, Integer> e : sorted.entrySet()) {
            int id = e.getValue();
            if (id != 255 && (id < 0 || id >= numClasses)) {
                throw t.bad(path, "maps " + e.getKey() + " to " + id + ", but class indices are 0.." + (numClasses - 1)
                        + " (data.num_classes " + numClasses + ") or 255 (ignore)");
            }
        }
        return sorted;
    }
}
