package org.leanseg.data.labelme;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.cli.Main;
import org.leanseg.data.Dataset;
import org.leanseg.data.DatasetException;
import org.leanseg.data.FileDataset;
import org.leanseg.data.FolderDataset;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;

/** labelme conversion: each shape type to the expected pixels, order, labels, errors, atomic output. */
class LabelmeTest {
    private static final int W = 12;
    private static final int H = 10;

    @TempDir
    Path dir;

    private final List<String> log = new ArrayList<>();

    private static String shape(String label, String type, double... xy) {
        StringBuilder pts = new StringBuilder();
        for (int i = 0; i < xy.length; i += 2) {
            pts.append(i == 0 ? "" : ", ").append('[').append(xy[i]).append(", ").append(xy[i + 1]).append(']');
        }
        return "{\"label\": \"" + label + "\", \"points\": [" + pts + "], \"group_id\": null, \"shape_type\": \""
                + type + "\", \"flags\": {}}";
    }

    private Path annotate(String stem, String... shapes) throws IOException {
        Path in = Files.createDirectories(dir.resolve("in"));
        BufferedImage im = new BufferedImage(W, H, BufferedImage.TYPE_3BYTE_BGR);
        ImageIO.write(im, "png", in.resolve(stem + ".png").toFile());
        Files.writeString(in.resolve(stem + ".json"), "{\"version\": \"5.4.1\", \"flags\": {}, \"shapes\": ["
                + String.join(", ", shapes) + "], \"imagePath\": \"" + stem + ".png\", \"imageData\": null, "
                + "\"imageHeight\": " + H + ", \"imageWidth\": " + W + "}");
        return in;
    }

    private Path classes(String... names) throws IOException {
        Path f = dir.resolve("labels.txt");
        Files.write(f, List.of(names), StandardCharsets.UTF_8);
        return f;
    }

    private LabelMap convertOne(String... shapes) throws IOException {
        Path in = annotate("a", shapes);
        Path out = dir.resolve("out");
        new LabelmeConverter(new ShapeRaster(2, 1), false, 0, log::add)
                .convert(in, classes("_background_", "one", "two"), out);
        return ImageFiles.readMask(out.resolve("labels/a.png"), null);
    }

    /** The mask as rows of digits ('.' = 0, '#' = 255). */
    private static String picture(LabelMap m) {
        StringBuilder sb = new StringBuilder();
        for (int y = 0; y < m.height(); y++) {
            for (int x = 0; x < m.width(); x++) {
                int v = m.at(y, x);
                sb.append(v == 0 ? '.' : v == 255 ? '#' : (char) ('0' + v));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static int count(LabelMap m, int value) {
        int n = 0;
        for (int v : m.labels()) {
            n += v == value ? 1 : 0;
        }
        return n;
    }

    @Test
    void rectangleAndPolygonPixels() throws IOException {
        LabelMap m = convertOne(shape("one", "rectangle", 3, 2, 1, 1), shape("two", "polygon", 6, 4, 10, 4, 6, 8));
        assertEquals("""
                ............
                .111........
                .111........
                ............
                ......22222.
                ......2222..
                ......222...
                ......22....
                ......2.....
                ............
                """, picture(m));
    }

    @Test
    void circlePointLineAndLinestripPixels() throws IOException {
        LabelMap circle = convertOne(shape("one", "circle", 5, 5, 7, 5));
        assertEquals(21, count(circle, 1), "radius 2 (+ half-pixel outline): the 5x5 disc");
        assertEquals(1, circle.at(3, 4));
        assertEquals(0, circle.at(3, 3), "corner of the 5x5 box is outside");
        Files.delete(dir.resolve("in/a.json"));
        deleteTree(dir.resolve("out"));

        LabelMap lines = convertOne(shape("one", "line", 1, 5, 8, 5), shape("two", "linestrip", 1, 1, 5, 1, 5, 3),
                shape("one", "point", 10, 8));
        // Line and strip: pixels within 1 (width 2) of the path, round ends; the strip, drawn
        // later, covers the line at (5, 4). Point: radius 1 + half-pixel outline = 3x3.
        assertEquals("""
                .22222......
                2222222.....
                .222222.....
                ....222.....
                .11112111...
                1111111111..
                .11111111...
                .........111
                .........111
                .........111
                """, picture(lines), "shapes painted in file order");
    }

    @Test
    void laterShapesPaintOverEarlierOnesAndIgnoreClass() throws IOException {
        Path in = annotate("a", shape("one", "rectangle", 0, 0, 11, 9), shape("two", "rectangle", 2, 2, 3, 3),
                shape("skip", "rectangle", 5, 5, 5, 6));
        new LabelmeConverter(ShapeRaster.LABELME, false, 0, log::add)
                .convert(in, classes("__ignore__", "_background_", "one", "two", "skip"), dir.resolve("o1"));
        LabelMap m = ImageFiles.readMask(dir.resolve("o1/labels/a.png"), null);
        assertEquals(4, count(m, 2), "class indices skip the __ignore__ line: 'two' is 2");
        assertEquals(1, m.at(0, 0));
        assertEquals(W * H - 4 - 2, count(m, 1));
        assertEquals(3, m.at(5, 5));
        assertEquals(List.of("_background_", "one", "two", "skip"),
                Files.readAllLines(dir.resolve("o1/classes.txt")));

        Files.writeString(dir.resolve("labels.txt"), "_background_\none\n__ignore__\ntwo\n");
        new LabelmeConverter(ShapeRaster.LABELME, true, 0, log::add)
                .convert(in, dir.resolve("labels.txt"), dir.resolve("o2"));
        LabelMap m2 = ImageFiles.readMask(dir.resolve("o2/labels/a.png"), null);
        assertEquals(255, m2.at(5, 5), "unknown label 'skip' painted as ignore");
        assertEquals(2, m2.at(2, 2));
        assertTrue(log.stream().anyMatch(l -> l.contains("1 shape(s)") && l.contains("skip=1")), log.toString());
    }

    @Test
    void roundTripThroughFolderDataset() throws IOException {
        annotate("b", shape("two", "rectangle", 0, 0, 2, 2));
        annotate("c", shape("one", "polygon", 0, 0, 5, 0, 5, 5, 0, 5));
        Path in = annotate("a", shape("one", "circle", 5, 5, 6, 5));
        Path out = dir.resolve("ds");
        LabelmeConverter.Result r = new LabelmeConverter(ShapeRaster.LABELME, false, 0.34, log::add)
                .convert(in, classes("_background_", "one", "two"), out);
        assertEquals(3, r.images());
        assertEquals(List.of("a", "b", "c"), Files.readAllLines(out.resolve("all.txt")));
        assertEquals(List.of("a", "b"), Files.readAllLines(out.resolve("train.txt")));
        assertEquals(List.of("c"), Files.readAllLines(out.resolve("val.txt")));
        FolderDataset ds = new FolderDataset(out, "all", FileDataset.Options.evaluation());
        assertEquals(3, ds.numClasses());
        Dataset.Sample b = ds.get(1, null);
        assertEquals("b", b.id());
        assertEquals(2f, b.label().get(2, 2));
        assertEquals(0f, b.label().get(3, 3));
        assertEquals(36, (int) ds.get(2, null).label().sum(), "6x6 square of class 1");
    }

    @Test
    void embeddedImageDataAndEveryShapeCheck() throws IOException {
        Path in = Files.createDirectories(dir.resolve("emb"));
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(7, 5, BufferedImage.TYPE_3BYTE_BGR), "png", png);
        String data = Base64.getEncoder().encodeToString(png.toByteArray());
        Files.writeString(in.resolve("e.json"), "{\"shapes\": [" + shape("one", "point", 1, 1) + "], "
                + "\"imagePath\": \"gone.png\", \"imageData\": \"" + data + "\"}");
        new LabelmeConverter(ShapeRaster.LABELME, false, 0, log::add).convert(in, classes("bg", "one"),
                dir.resolve("eo"));
        assertArrayEquals(png.toByteArray(), Files.readAllBytes(dir.resolve("eo/images/e.png")));
        assertEquals(5, ImageFiles.readMask(dir.resolve("eo/labels/e.png"), null).height());
    }

    @Test
    void badInputsFailClearlyAndWriteNothing() throws IOException {
        Path cls = classes("_background_", "one");
        Path in = annotate("a", shape("one", "rectangle", 0, 0, 1, 1));
        Files.writeString(in.resolve("b.json"), "{\"shapes\": [ {\"label\": \"one\", ");
        Path out = dir.resolve("never");
        LabelmeConverter conv = new LabelmeConverter(ShapeRaster.LABELME, false, 0, log::add);
        DatasetException e = assertThrows(DatasetException.class, () -> conv.convert(in, cls, out));
        assertTrue(e.getMessage().startsWith(in.resolve("b.json").toString()) && e.getMessage().contains("not valid JSON"),
                e.getMessage());
        assertFalse(Files.exists(out), "no half-written output");
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "staging folder removed");
        }

        Files.writeString(in.resolve("b.json"), "{\"shapes\": [" + shape("dgo", "polygon", 0, 0, 1, 0, 1, 1)
                + "], \"imagePath\": \"a.png\"}");
        assertMessage(conv, in, cls, out, "b.json", "shape 1 has label 'dgo'", "--unknown-as-ignore");
        Files.writeString(in.resolve("b.json"), "{\"shapes\": [" + shape("one", "polygon", 0, 0, 1, 0)
                + "], \"imagePath\": \"a.png\"}");
        assertMessage(conv, in, cls, out, "b.json", "polygon with 2 point(s)", "at least 3");
        Files.writeString(in.resolve("b.json"), "{\"shapes\": [" + shape("one", "mask", 0, 0, 1, 0)
                + "], \"imagePath\": \"a.png\"}");
        assertMessage(conv, in, cls, out, "b.json", "shape_type 'mask'");
        Files.writeString(in.resolve("b.json"), "{\"shapes\": [], \"imagePath\": \"a.png\", \"imageHeight\": 3, "
                + "\"imageWidth\": 3}");
        assertMessage(conv, in, cls, out, "b.json", "say 3x3 but the image is 10x12");
        Files.writeString(in.resolve("b.json"), "{\"shapes\": [], \"imagePath\": \"zz.png\"}");
        assertMessage(conv, in, cls, out, "b.json", "zz.png does not exist");
        Files.writeString(in.resolve("b.json"), "[1, 2]");
        assertMessage(conv, in, cls, out, "b.json", "top level must be a JSON object");
        assertFalse(Files.exists(out));

        Files.delete(in.resolve("b.json"));
        Files.createDirectories(out.resolve("old"));
        assertMessage(conv, in, cls, out, "never", "not empty");
    }

    private static void assertMessage(LabelmeConverter conv, Path in, Path cls, Path out, String... needles) {
        DatasetException e = assertThrows(DatasetException.class, () -> conv.convert(in, cls, out));
        for (String n : needles) {
            assertTrue(e.getMessage().contains(n), "'" + n + "' in: " + e.getMessage());
        }
    }

    @Test
    void commandLine() throws IOException {
        Path in = annotate("a", shape("one", "rectangle", 0, 0, 1, 1), shape("cat", "rectangle", 4, 4, 5, 5));
        Path cls = classes("_background_", "one");
        assertEquals(2, Main.run("convert-labelme", "--input", in.toString(), "--classes", cls.toString(),
                "--output", dir.resolve("c1").toString()), "bad input: rc 2, as every command");
        assertFalse(Files.exists(dir.resolve("c1")));
        assertEquals(0, Main.run("convert-labelme", "--input", in.toString(), "--classes", cls.toString(),
                "--output", dir.resolve("c1").toString(), "--unknown-as-ignore"));
        assertEquals(255, ImageFiles.readMask(dir.resolve("c1/labels/a.png"), null).at(4, 4));
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
