package org.leanseg.data.labelme;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.leanseg.data.DatasetException;
import org.leanseg.data.Exif;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;
import org.leanseg.data.ListFiles;
import org.leanseg.data.Palette;
import org.leanseg.io.AtomicFiles;

/**
 * Turns a folder of labelme JSON files into a {@link org.leanseg.data.FolderDataset}:
 * {@code images/} (the annotated images, copied byte for byte or decoded from {@code imageData}),
 * {@code labels/<stem>.png} (palette PNGs with the VOC colours holding class indices),
 * {@code classes.txt} and the lists {@code all.txt} (and {@code train.txt}/{@code val.txt} with a
 * validation share). Like labelme's {@code labelme2voc.py}, the classes file lists one name per
 * line, index 0 first; a line {@code __ignore__} maps its label to 255 instead of a class.
 *
 * <p>All files are checked before anything is written, and the output is built in a hidden
 * sibling folder that is renamed into place at the end: a failed run leaves no output at all.
 *
 * <pre>{@code
 * LabelmeConverter.Result r = new LabelmeConverter(ShapeRaster.LABELME, false, 0.1, System.err::println)
 *         .convert(Path.of("annotations"), Path.of("labels.txt"), Path.of("my-data"));
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=LabelmeTest}.
 */
public final class LabelmeConverter {
    /** The classes-file line that marks labels to paint as ignore (255), as in labelme2voc.py. */
    public static final String IGNORE_LINE = "__ignore__";

    /**
     * What a conversion did.
     *
     * @param images samples written
     * @param shapes shapes painted
     * @param ignoredUnknown shapes with labels not in the classes file, painted 255
     * @param output the dataset folder
     */
    public record Result(int images, int shapes, int ignoredUnknown, Path output) {
    }

    private final ShapeRaster raster;
    private final boolean unknownAsIgnore;
    private final double valRatio;
    private final Consumer<String> log;

    /**
     * @param unknownAsIgnore paint shapes with unknown labels 255 (with a warning) instead of failing
     * @param valRatio share of samples listed in val.txt (evenly spread); 0: no train/val lists
     * @param log progress and warnings
     */
    public LabelmeConverter(ShapeRaster raster, boolean unknownAsIgnore, double valRatio, Consumer<String> log) {
        if (!(valRatio >= 0 && valRatio < 1)) {
            throw new IllegalArgumentException("validation share must be in [0, 1), got " + valRatio);
        }
        this.raster = raster;
        this.unknownAsIgnore = unknownAsIgnore;
        this.valRatio = valRatio;
        this.log = log;
    }

    /** Converts every {@code *.json} directly in {@code input}; {@code output} must not hold files yet. */
    public Result convert(Path input, Path classesFile, Path output) throws IOException {
        Map<String, Integer> classes = new HashMap<>();
        List<String> names = readClasses(classesFile, classes);
        checkOutput(output);
        List<Path> jsons = jsonFiles(input);
        List<LabelmeFile> files = new ArrayList<>();
        Map<String, Integer> unknown = new TreeMap<>();
        for (Path json : jsons) {
            LabelmeFile f = LabelmeFile.parse(json);
            checkLabels(f, classes, unknown);
            files.add(withSize(f));
        }
        if (!unknown.isEmpty()) {
            log.accept("labelme: " + unknown.values().stream().mapToInt(Integer::intValue).sum() + " shape(s) with "
                    + "labels not in " + classesFile + " painted as ignore (255): " + unknown);
        }
        Path parent = output.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path staging = Files.createTempDirectory(parent, "." + output.getFileName() + ".tmp-");
        try {
            int shapes = writeDataset(staging, files, classes, names);
            if (Files.isDirectory(output)) {
                Files.delete(output); // checked empty above
            }
            Files.move(staging, output, StandardCopyOption.ATOMIC_MOVE);
            int ignored = unknown.values().stream().mapToInt(Integer::intValue).sum();
            log.accept("labelme: wrote " + files.size() + " samples (" + shapes + " shapes) to " + output);
            return new Result(files.size(), shapes, ignored, output);
        } finally {
            deleteTree(staging);
        }
    }

    private static List<String> readClasses(Path file, Map<String, Integer> index) {
        List<String> names = new ArrayList<>();
        for (ListFiles.Line l : ListFiles.read(file, "classes file")) {
            String name = String.join(" ", l.fields());
            Integer before = index.put(name, name.equals(IGNORE_LINE) ? LabelMap.IGNORE : names.size());
            if (before != null) {
                throw new DatasetException(file, "line " + l.number() + ": class '" + name + "' is listed twice");
            }
            if (!name.equals(IGNORE_LINE)) {
                names.add(name);
            }
        }
        if (names.isEmpty() || names.size() > LabelMap.IGNORE) {
            throw new DatasetException(file, "needs 1 to 255 class names, one per line (class 0 first, usually "
                    + "'_background_'), got " + names.size());
        }
        return names;
    }

    private static void checkOutput(Path output) throws IOException {
        if (Files.isDirectory(output)) {
            try (Stream<Path> s = Files.list(output)) {
                if (s.findAny().isPresent()) {
                    throw new DatasetException(output, "the output folder exists and is not empty; conversion never "
                            + "overwrites a dataset: choose a new --output or delete this one");
                }
            }
        } else if (Files.exists(output)) {
            throw new DatasetException(output, "the output exists and is not a folder; choose another --output");
        }
    }

    private static List<Path> jsonFiles(Path input) throws IOException {
        if (!Files.isDirectory(input)) {
            throw new DatasetException(input, "the input folder does not exist; point --input at the labelme folder");
        }
        List<Path> jsons;
        try (Stream<Path> s = Files.list(input)) {
            jsons = s.filter(p -> p.getFileName().toString().endsWith(".json") && Files.isRegularFile(p))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
        if (jsons.isEmpty()) {
            throw new DatasetException(input, "no labelme .json files in this folder; annotate images with labelme "
                    + "and save next to them");
        }
        return jsons;
    }

    private void checkLabels(LabelmeFile f, Map<String, Integer> classes, Map<String, Integer> unknown) {
        for (LabelmeFile.Shape s : f.shapes()) {
            if (classes.containsKey(s.label())) {
                continue;
            }
            if (!unknownAsIgnore) {
                throw new DatasetException(f.json(), "shape " + s.number() + " has label '" + s.label() + "', which "
                        + "is not in the classes file " + classes.keySet().stream().sorted().toList() + "; add it "
                        + "there, fix the label in labelme, or pass --unknown-as-ignore to paint it 255");
            }
            unknown.merge(s.label(), 1, Integer::sum);
        }
    }

    /** The file with its image size known and checked against the image itself. */
    private static LabelmeFile withSize(LabelmeFile f) {
        byte[] bytes = imageBytes(f);
        int[] hw = imageSize(f, bytes);
        if (f.height() != 0 && (f.height() != hw[0] || f.width() != hw[1])) {
            throw new DatasetException(f.json(), "imageHeight/imageWidth say " + f.height() + "x" + f.width()
                    + " but the image is " + hw[0] + "x" + hw[1] + " (EXIF orientation applied); open and re-save "
                    + "it in labelme so the annotation matches the image");
        }
        return new LabelmeFile(f.json(), hw[0], hw[1], f.imagePath(), f.imageData(), f.shapes());
    }

    private static byte[] imageBytes(LabelmeFile f) {
        if (f.imagePath() != null && Files.isRegularFile(f.imagePath())) {
            try {
                return Files.readAllBytes(f.imagePath());
            } catch (IOException e) {
                throw new DatasetException(f.imagePath(), "cannot read the image of " + f.json() + " (" + e + ")", e);
            }
        }
        if (f.imageData() != null) {
            return f.imageData();
        }
        throw new DatasetException(f.json(), "its image " + (f.imagePath() == null ? "(no imagePath)" : f.imagePath())
                + " does not exist and imageData is empty; put the image next to the JSON or save with image data");
    }

    /** [height, width] as shown: the decoder's header size, swapped for EXIF orientations 5..8. */
    private static int[] imageSize(LabelmeFile f, byte[] bytes) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new DatasetException(f.json(), "its image is not in a format Java can decode (PNG, JPEG, BMP, "
                        + "GIF); convert the image and re-save the annotation");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                return Exif.orientation(bytes) >= 5 ? new int[] {w, h} : new int[] {h, w};
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new DatasetException(f.json(), "its image is corrupt (" + e.getMessage() + ")", e);
        }
    }

    private int writeDataset(Path dir, List<LabelmeFile> files, Map<String, Integer> classes, List<String> names)
            throws IOException {
        int shapes = 0;
        List<String> stems = new ArrayList<>();
        for (LabelmeFile f : files) {
            int[] mask = new int[f.height() * f.width()]; // unpainted pixels are class 0
            for (LabelmeFile.Shape s : f.shapes()) {
                raster.paint(mask, f.height(), f.width(), s, classes.getOrDefault(s.label(), LabelMap.IGNORE));
                shapes++;
            }
            ImageFiles.writeIndexPng(dir.resolve("labels/" + f.stem() + ".png"), new LabelMap(f.height(), f.width(),
                    mask), Palette.voc());
            AtomicFiles.write(dir.resolve("images/" + f.stem() + "." + extension(f)), imageBytes(f));
            stems.add(f.stem());
        }
        writeLines(dir.resolve("classes.txt"), names);
        writeLines(dir.resolve("all.txt"), stems);
        if (valRatio > 0) {
            List<String> train = new ArrayList<>();
            List<String> val = new ArrayList<>();
            for (int i = 0; i < stems.size(); i++) { // evenly spread: sample i is val when floor(i * r) steps
                (Math.floor((i + 1) * valRatio) > Math.floor(i * valRatio) ? val : train).add(stems.get(i));
            }
            if (val.isEmpty()) { // a small set still gets one validation sample
                val.add(train.remove(train.size() - 1));
            }
            writeLines(dir.resolve("train.txt"), train);
            writeLines(dir.resolve("val.txt"), val);
        }
        return shapes;
    }

    private static String extension(LabelmeFile f) {
        if (f.imagePath() != null && Files.isRegularFile(f.imagePath())) {
            String n = f.imagePath().getFileName().toString();
            int dot = n.lastIndexOf('.');
            if (dot > 0) {
                return n.substring(dot + 1).toLowerCase(Locale.ROOT);
            }
        }
        byte[] b = f.imageData() != null ? f.imageData() : new byte[0];
        return b.length > 1 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8 ? "jpg" : "png";
    }

    private static void writeLines(Path file, List<String> lines) throws IOException {
        AtomicFiles.write(file, String.join("\n", lines).concat(lines.isEmpty() ? "" : "\n")
                .getBytes(StandardCharsets.UTF_8));
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (NoSuchFileException ignored) {
                    // already gone
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
