package org.leanseg.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * The part of the file-backed datasets ({@link VocDataset}, {@link FolderDataset}) that does not
 * depend on the folder layout: checking the listed files, decoding and validating each sample,
 * and handing it to the augmentation (or the whole-image evaluation path when {@code rnd} is
 * null). Bad input is one {@link DatasetException} naming the file, the problem and the fix; with
 * {@link Options#skipBad} the dataset instead decodes every sample once when opened, drops the bad
 * ones and reports each, and their count, through the warning sink: never silently.
 *
 * <pre>{@code
 * Dataset train = new VocDataset(root, "train", FileDataset.Options.training(Augment.Settings.defaults(512, 512)));
 * Dataset.Sample s = train.get(0, new SplittableRandom(7)); // [3, 512, 512] and [512, 512]
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=FileDatasetTest}.
 */
public abstract class FileDataset implements Dataset {
    static final int BINARY_CHECK_MASKS = 20;

    /**
     * One listed sample.
     *
     * @param id the name used in messages and outputs (the file stem)
     * @param image image file
     * @param mask mask file
     * @param line where it is listed ("ImageSets/Segmentation/train.txt:12"), for messages
     */
    public record Entry(String id, Path image, Path mask, String line) {
    }

    /**
     * How samples are made.
     *
     * @param augment training augmentation used when {@code get} receives a random source; null:
     *     always the whole image
     * @param skipBad drop bad samples (with a warning each and a count) instead of failing
     * @param warnings where skip warnings go (a log); never null
     * @param labelMap raw mask values to class indices, applied to every mask read; null: none
     */
    public record Options(Augment augment, boolean skipBad, Consumer<String> warnings, LabelRemap labelMap) {
        /** Whole images, failing on the first bad sample, warnings to stderr. */
        public static Options evaluation() {
            return new Options(null, false, System.err::println, null);
        }

        /** Augmented crops with {@code settings}, failing on bad samples, warnings to stderr. */
        public static Options training(Augment.Settings settings) {
            return new Options(new Augment(settings), false, System.err::println, null);
        }

        public Options withSkipBad(boolean skip, Consumer<String> sink) {
            return new Options(augment, skip, sink, labelMap);
        }

        /** These options with masks remapped by {@code map} (null: read as stored). */
        public Options withLabelMap(LabelRemap map) {
            return new Options(augment, skipBad, warnings, map);
        }
    }

    private final List<Entry> entries;
    private final List<String> classNames;
    private final Palette rgbPalette;
    private final Options options;
    private final int skipped;
    /** Masks decoded so far, and how many held a class other than 0: see {@link #noteClasses}. */
    private final AtomicInteger masksSeen = new AtomicInteger();
    private final AtomicInteger masksWithObjects = new AtomicInteger();
    private final AtomicBoolean warnedBinary = new AtomicBoolean();

    /**
     * @param listFile the list the entries came from, named in errors
     * @param listed the entries in list order
     * @param classNames one name per class index
     * @param rgbPalette colours for RGB masks, or null when RGB masks are an error
     */
    protected FileDataset(Path listFile, List<Entry> listed, List<String> classNames, Palette rgbPalette,
            Options options) {
        if (listed.isEmpty()) {
            throw new DatasetException(listFile, "the list is empty; write one sample id per line");
        }
        this.classNames = List.copyOf(classNames);
        this.rgbPalette = rgbPalette;
        this.options = options;
        List<Entry> present = withFiles(listFile, listed);
        this.entries = options.skipBad ? decodable(present) : present;
        this.skipped = listed.size() - entries.size();
        if (skipped > 0) {
            options.warnings.accept("data: skipped " + skipped + " of " + listed.size() + " samples listed in "
                    + listFile + " (data.skip_bad=true); " + entries.size() + " remain");
        }
        if (entries.isEmpty()) {
            throw new DatasetException(listFile, "every listed sample was bad and skipped; fix the files above");
        }
    }

    /** Entries whose files exist; the rest are an error (or skipped with a warning each). */
    private List<Entry> withFiles(Path listFile, List<Entry> listed) {
        List<Entry> present = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        Path firstMissing = null;
        for (Entry e : listed) {
            Path gone = !Files.isRegularFile(e.image) ? e.image : !Files.isRegularFile(e.mask) ? e.mask : null;
            if (gone == null) {
                present.add(e);
                continue;
            }
            String what = (gone == e.image ? "image" : "mask") + " file " + gone + " of entry '" + e.id + "' ("
                    + e.line + ") " + (Files.exists(gone) ? "is not a regular file (a folder?)" : "does not exist");
            if (options.skipBad) {
                options.warnings.accept("data: skipping " + e.id + ": " + what);
            } else if (firstMissing == null) {
                firstMissing = gone;
                missing.add(what);
            } else {
                missing.add(what);
            }
        }
        if (!missing.isEmpty()) {
            throw new DatasetException(firstMissing, missing.size() + " of " + listed.size() + " entries in " + listFile
                    + " have missing files; first: " + missing.get(0) + ". Fix the list or add the files (or set "
                    + "data.skip_bad=true to skip such entries with a warning)");
        }
        return present;
    }

    /** Decodes every entry once (in parallel) and keeps those that pass every check. */
    private List<Entry> decodable(List<Entry> present) {
        String[] problems = new String[present.size()];
        IntStream.range(0, present.size()).parallel().forEach(i -> {
            try {
                decode(present.get(i));
            } catch (DatasetException e) {
                problems[i] = e.getMessage();
            }
        });
        List<Entry> good = new ArrayList<>();
        for (int i = 0; i < problems.length; i++) {
            if (problems[i] == null) {
                good.add(present.get(i));
            } else {
                options.warnings.accept("data: skipping " + present.get(i).id + ": " + problems[i]);
            }
        }
        return good;
    }

    @Override
    public int size() {
        return entries.size();
    }

    @Override
    public int numClasses() {
        return classNames.size();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    /** Samples dropped by {@link Options#skipBad} when the dataset was opened. */
    public int skipped() {
        return skipped;
    }

    /** The listed sample {@code index} refers to. */
    public Entry entry(int index) {
        return entries.get(index);
    }

    @Override
    public Sample get(int index, SplittableRandom rnd) {
        Entry e = entries.get(index);
        Decoded d = decode(e);
        if (options.augment == null) {
            return Augment.whole(d.image, d.mask, Augment.Settings.imagenetMean(), Augment.Settings.imagenetStd(),
                    e.id);
        }
        if (rnd == null) {
            return options.augment.whole(d.image, d.mask, e.id);
        }
        return options.augment.train(d.image, d.mask, rnd, e.id);
    }

    private record Decoded(RgbImage image, LabelMap mask) {
    }

    private Decoded decode(Entry e) {
        RgbImage image = ImageFiles.readImage(e.image);
        LabelMap mask = ImageFiles.readMask(e.mask, rgbPalette);
        if (options.labelMap != null) {
            mask = options.labelMap.apply(mask);
        }
        if (image.height() != mask.height() || image.width() != mask.width()) {
            throw new DatasetException(e.mask, "the mask is " + mask.width() + "x" + mask.height()
                    + " (WxH) but its image " + e.image + " is " + image.width() + "x" + image.height()
                    + " as shown (EXIF orientation applied); masks must have the image's size: re-export the mask "
                    + "from the image as viewers show it, or fix the pairing in " + e.line);
        }
        checkLabels(e, mask);
        return new Decoded(image, mask);
    }

    private void checkLabels(Entry e, LabelMap mask) {
        int n = numClasses();
        int[] v = mask.labels();
        int bad = 0;
        int first = -1;
        TreeSet<Integer> values = new TreeSet<>();
        for (int i = 0; i < v.length; i++) {
            if (v[i] >= 0 && v[i] < n || v[i] == LabelMap.IGNORE) {
                continue;
            }
            if (bad++ == 0) {
                first = i;
            }
            values.add(v[i]);
        }
        if (bad == 0) {
            noteClasses(v);
            return;
        }
        boolean scaled16 = values.stream().allMatch(x -> x % 257 == 0 && x / 257 < n || x == 65535);
        throw new DatasetException(e.mask, bad + " pixel(s) hold values that are neither a class index (0.."
                + (n - 1) + ") nor 255 (ignore): " + describe(values) + ", first at (x=" + first % mask.width()
                + ", y=" + first / mask.width() + "). "
                + (scaled16 ? "They look like 16-bit-scaled indices (index x 257): save the mask as an 8-bit "
                        + "index PNG. " : "")
                + (options.labelMap != null ? "These are values after " + options.labelMap + ": map them to "
                        + "classes below data.num_classes. " : "")
                + "Set data.num_classes (and classes.txt) to cover every class, or paint those pixels 255");
    }

    /**
     * Binary masks saved as 0/255 read as "background and ignore": training then never sees the
     * object. Nothing in one mask tells, so after {@value #BINARY_CHECK_MASKS} masks without any
     * class but 0 the dataset warns once.
     */
    private void noteClasses(int[] labels) {
        boolean objects = false;
        for (int v : labels) {
            if (v != 0 && v != LabelMap.IGNORE) {
                objects = true;
                break;
            }
        }
        if (objects) {
            masksWithObjects.incrementAndGet();
        }
        if (masksSeen.incrementAndGet() >= BINARY_CHECK_MASKS && masksWithObjects.get() == 0
                && !warnedBinary.getAndSet(true)) {
            options.warnings.accept("data: the first " + BINARY_CHECK_MASKS + " masks hold only 0 and 255, and 255 "
                    + "means ignore: if they are binary masks with the object as 255, re-save the object as 1");
        }
    }

    private static String describe(TreeSet<Integer> values) {
        List<Integer> some = values.stream().limit(8).toList();
        return "values " + some + (values.size() > some.size() ? " and " + (values.size() - some.size()) + " more"
                : "");
    }
}
