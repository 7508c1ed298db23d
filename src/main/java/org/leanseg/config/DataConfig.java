package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

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
 */
public record DataConfig(Type type, String root, String trainSplit, String valSplit, int numClasses, Size2 cropSize,
        Synthetic synthetic, boolean skipBad) {

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

    /** Synthetic shapes: background + 5 shape classes at 64x64 (at most 2 shapes, 20% textured), no crop. */
    static DataConfig defaults() {
        return new DataConfig(Type.SYNTHETIC, null, "train", "val", 6, Size2.square(64),
                new Synthetic(10_000, 200, Size2.square(64), 0, 2, 0.2), false);
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
        return new DataConfig(type, root,
                t.string("data.train_split", false),
                t.string("data.val_split", false),
                t.integer("data.num_classes", 1, 255),
                t.size("data.crop_size"),
                synthetic,
                t.bool("data.skip_bad"));
    }
}
