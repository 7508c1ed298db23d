package org.leanseg.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The Pascal VOC 2012 layout: {@code JPEGImages/<id>.jpg}, {@code SegmentationClass/<id>.png}
 * (palette PNGs read as palette indices, 255 = the ignore border) and the split lists
 * {@code ImageSets/Segmentation/<split>.txt}. Ids missing from SegmentationClass are looked up in
 * {@code SegmentationClassAug/} (the SBD-augmented grayscale masks, e.g. for a
 * {@code trainaug.txt} list). {@code root} may be the VOC2012 folder or a folder holding
 * {@code VOC2012/} or {@code VOCdevkit/VOC2012/}. A {@code classes.txt} in the VOC folder replaces
 * the 21 VOC class names; RGB masks are mapped through the VOC palette (or {@code palette.txt}).
 *
 * <pre>{@code
 * Dataset val = new VocDataset(Path.of("data/VOCdevkit"), "val", FileDataset.Options.evaluation());
 * Dataset.Sample s = val.get(0, null); // the whole image, normalised
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=FileDatasetTest}.
 */
public final class VocDataset extends FileDataset {
    /** The 20 VOC object classes and background, in index order. */
    public static final List<String> CLASS_NAMES = List.of("background", "aeroplane", "bicycle", "bird", "boat",
            "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
            "pottedplant", "sheep", "sofa", "train", "tvmonitor");

    private static final String SPLITS = "ImageSets/Segmentation";

    /** Opens split {@code split} (e.g. "train", "val", "trainval") of the VOC folder under {@code root}. */
    public VocDataset(Path root, String split, Options options) {
        this(vocFolder(root), split, options, 0);
    }

    /** Resolves the VOC folder once: super() arguments cannot use locals of the public constructor. */
    private VocDataset(Path voc, String split, Options options, int unused) {
        super(listFile(voc, split), entries(voc, split), classNames(voc), palette(voc), options);
    }

    private static Path vocFolder(Path root) {
        for (Path p : List.of(root, root.resolve("VOC2012"), root.resolve("VOCdevkit/VOC2012"))) {
            if (Files.isDirectory(p.resolve("JPEGImages"))) {
                return p;
            }
        }
        throw new DatasetException(root, "not a Pascal VOC folder: no JPEGImages/ here, in VOC2012/ or in "
                + "VOCdevkit/VOC2012/; set data.root to the folder holding JPEGImages/, SegmentationClass/ and "
                + "ImageSets/, or use data.type=folder for another layout");
    }

    private static Path listFile(Path voc, String split) {
        Path list = voc.resolve(SPLITS).resolve(split + ".txt");
        if (!Files.isRegularFile(list)) {
            throw new DatasetException(list, "no such split list; the splits here are " + available(voc)
                    + " (set data.train_split / data.val_split to one of them)");
        }
        return list;
    }

    private static String available(Path voc) {
        try (Stream<Path> s = Files.list(voc.resolve(SPLITS))) {
            List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".txt"))
                    .map(n -> n.substring(0, n.length() - 4)).sorted().toList();
            return names.isEmpty() ? "none" : names.toString();
        } catch (IOException e) {
            return "none (no " + SPLITS + "/ folder)";
        }
    }

    private static List<Entry> entries(Path voc, String split) {
        Path list = listFile(voc, split);
        List<Entry> out = new ArrayList<>();
        for (ListFiles.Line l : ListFiles.read(list, "split list")) {
            String id = l.fields()[0];
            Path mask = voc.resolve("SegmentationClass").resolve(id + ".png");
            Path aug = voc.resolve("SegmentationClassAug").resolve(id + ".png");
            if (!Files.exists(mask) && Files.exists(aug)) {
                mask = aug;
            }
            out.add(new Entry(id, voc.resolve("JPEGImages").resolve(id + ".jpg"), mask, l.where()));
        }
        return out;
    }

    private static List<String> classNames(Path voc) {
        Path custom = voc.resolve("classes.txt");
        return Files.isRegularFile(custom) ? ListFiles.classNames(custom) : CLASS_NAMES;
    }

    private static Palette palette(Path voc) {
        Path custom = voc.resolve("palette.txt");
        return Files.isRegularFile(custom) ? Palette.read(custom) : Palette.voc();
    }
}
