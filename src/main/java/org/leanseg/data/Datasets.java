package org.leanseg.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.leanseg.config.DataConfig;

/**
 * Opens the file-backed dataset a {@link DataConfig} names ({@code data.type} voc or folder) for
 * training (augmented crops of {@code data.crop_size}) or evaluation (whole images), and checks
 * that {@code data.num_classes} matches the dataset's class list; finds its class colours. The
 * synthetic dataset is made by its own class.
 *
 * <pre>{@code
 * FileDataset train = Datasets.open(cfg.data(), cfg.data().trainSplit(), true, false, log::warn);
 * FileDataset val = Datasets.open(cfg.data(), cfg.data().valSplit(), false, false, log::warn);
 * Palette colours = Datasets.palette(cfg.data()); // palette.txt, or VOC's
 * }</pre>
 */
public final class Datasets {
    private Datasets() {
    }

    /**
     * @param training augmented crops (true) or whole images (false)
     * @param skipBad drop bad samples with a warning each and a count (data.skip_bad)
     * @param warnings where those warnings go
     */
    public static FileDataset open(DataConfig data, String split, boolean training, boolean skipBad,
            Consumer<String> warnings) {
        FileDataset.Options options = training
                ? FileDataset.Options.training(Augment.Settings.defaults(data.cropSize().height(),
                        data.cropSize().width()))
                : FileDataset.Options.evaluation();
        options = options.withSkipBad(skipBad, warnings)
                .withLabelMap(data.labelMap() == null ? null : LabelRemap.of(data.labelMap()));
        Path root = Path.of(data.root());
        FileDataset ds = switch (data.type()) {
            case VOC -> new VocDataset(root, split, options);
            case FOLDER -> new FolderDataset(root, split, options);
            case SYNTHETIC -> throw new IllegalArgumentException("data.type synthetic has no files; "
                    + "use the synthetic dataset");
        };
        if (ds.numClasses() != data.numClasses()) {
            throw new DatasetException(root, "data.num_classes is " + data.numClasses() + " but the dataset has "
                    + ds.numClasses() + " classes " + ds.classNames() + "; set data.num_classes=" + ds.numClasses()
                    + (data.type() == DataConfig.Type.VOC ? " (or put a classes.txt in the VOC folder)"
                            : " (or edit classes.txt)"));
        }
        return ds;
    }

    /**
     * The class colours of the dataset {@code data} names: its {@code palette.txt} (in the folder
     * root, or in the VOC folder) when it has one, else the Pascal VOC palette. Prediction masks
     * and overlays use it, so they show the classes in the dataset's own colours.
     */
    public static Palette palette(DataConfig data) {
        if (data.type() == DataConfig.Type.SYNTHETIC || data.root() == null) {
            return Palette.voc();
        }
        Path root = Path.of(data.root());
        List<Path> folders = data.type() == DataConfig.Type.VOC
                ? List.of(root, root.resolve("VOC2012"), root.resolve("VOCdevkit/VOC2012")) : List.of(root);
        for (Path folder : folders) {
            Path file = folder.resolve("palette.txt");
            if (Files.isRegularFile(file)) {
                return Palette.read(file);
            }
        }
        return Palette.voc();
    }
}
