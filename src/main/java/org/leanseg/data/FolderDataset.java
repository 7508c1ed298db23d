package org.leanseg.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A generic layout for users' own data (the one {@code leanseg convert-labelme} writes):
 * <pre>
 * root/classes.txt         one class name per line, index 0 first
 * root/palette.txt         optional: class colours, to read RGB colour masks (see {@link Palette})
 * root/images/             images (jpg, jpeg, png, bmp)
 * root/labels/             masks: &lt;stem&gt;.png, grayscale or palette PNGs of class indices, 255 = ignore
 * root/&lt;split&gt;.txt         one sample per line: a stem ("cat_1"), a file name ("cat_1.jpg"), or
 *                          "image-path mask-path" relative to root (PaddleSeg's list format)
 * </pre>
 * Without {@code <split>.txt}, a folder {@code root/<split>/} with its own {@code images/} and
 * {@code labels/} is used, every image in it a sample (sorted by name).
 *
 * <pre>{@code
 * Dataset train = new FolderDataset(Path.of("my-data"), "train",
 *         FileDataset.Options.training(Augment.Settings.defaults(384, 384)));
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=FileDatasetTest}.
 */
public final class FolderDataset extends FileDataset {
    /** Image extensions (any case) tried, in order, for list entries given as a bare stem. */
    public static final List<String> IMAGE_EXTENSIONS = List.of("jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff");

    /** Opens split {@code split} of the folder dataset at {@code root}. */
    public FolderDataset(Path root, String split, Options options) {
        super(source(root, split), entries(root, split), ListFiles.classNames(root.resolve("classes.txt")),
                palette(root), options);
    }

    /** The list file, or the split folder when there is none. */
    private static Path source(Path root, String split) {
        Path list = root.resolve(split + ".txt");
        if (Files.isRegularFile(list)) {
            return list;
        }
        Path folder = root.resolve(split);
        if (Files.isDirectory(folder.resolve("images"))) {
            return folder;
        }
        throw new DatasetException(list, "no list file for split '" + split + "' and no folder " + folder
                + "/images/; write " + list.getFileName() + " with one image stem per line, or set "
                + "data.train_split / data.val_split to an existing split");
    }

    private static List<Entry> entries(Path root, String split) {
        Path source = source(root, split);
        if (Files.isDirectory(source)) {
            return folderEntries(source);
        }
        List<Entry> out = new ArrayList<>();
        for (ListFiles.Line l : ListFiles.read(source, "split list")) {
            String[] f = l.fields();
            if (f.length == 2) {
                Path image = root.resolve(f[0]);
                out.add(new Entry(stem(image), image, root.resolve(f[1]), l.where()));
            } else if (f.length == 1) {
                out.add(entry(root, f[0], l.where()));
            } else {
                throw new DatasetException(source, "line " + l.number() + " has " + f.length + " fields; write a "
                        + "stem, an image file name, or 'image-path mask-path' (paths without spaces)");
            }
        }
        return out;
    }

    private static Entry entry(Path root, String name, String where) {
        Path images = root.resolve("images");
        String stem = name;
        Path image = images.resolve(name);
        if (!hasImageExtension(name)) {
            image = images.resolve(name + "." + IMAGE_EXTENSIONS.get(0));
            search:
            for (String ext : IMAGE_EXTENSIONS) {
                for (String e : List.of(ext, ext.toUpperCase(Locale.ROOT))) {
                    Path candidate = images.resolve(name + "." + e);
                    if (Files.isRegularFile(candidate)) {
                        image = candidate;
                        break search;
                    }
                }
            }
        } else {
            stem = stem(image);
        }
        return new Entry(stem, image, root.resolve("labels").resolve(stem + ".png"), where);
    }

    private static List<Entry> folderEntries(Path folder) {
        try (Stream<Path> s = Files.list(folder.resolve("images"))) {
            return s.filter(p -> Files.isRegularFile(p) && hasImageExtension(p.getFileName().toString())).sorted()
                    .map(p -> new Entry(stem(p), p, folder.resolve("labels").resolve(stem(p) + ".png"),
                            folder.relativize(p).toString()))
                    .toList();
        } catch (IOException e) {
            throw new DatasetException(folder.resolve("images"), "cannot list the image folder (" + e + ")", e);
        }
    }

    private static boolean hasImageExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 && IMAGE_EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    private static String stem(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    private static Palette palette(Path root) {
        Path file = root.resolve("palette.txt");
        return Files.isRegularFile(file) ? Palette.read(file) : null;
    }
}
