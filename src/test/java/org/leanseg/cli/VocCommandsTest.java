package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.data.Fixtures;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;
import org.leanseg.data.RgbImage;

/**
 * The commands end to end on a Pascal VOC layout in a temp folder: JPEGs of odd sizes (one stored
 * landscape with an EXIF orientation tag, shown portrait), palette-PNG masks, ImageSets lists.
 * {@code train} writes a checkpoint, {@code eval} gives the same mIoU whole and slide when the
 * crop covers every image, {@code predict} writes masks and overlays of the images' shown sizes.
 *
 * <p>Check: {@code mvn -B -q test -Dtest=VocCommandsTest}.
 */
class VocCommandsTest {
    /** A tiny model and a two-iteration run at 24x24 crops. */
    static final List<String> SETS = List.of("model.width=0.25", "model.aspp_channels=16", "model.low_level_channels=8",
            "model.decoder_channels=16", "data.type=voc", "data.num_classes=21", "data.crop_size=24", "train.batch=2", "train.iters=2",
            "train.warmup_iters=1", "train.log_interval=1", "train.eval_interval=0", "train.checkpoint_interval=2",
            "device=cpu");

    /** id, stored width, stored height, EXIF orientation (6: shown rotated, width and height swapped). */
    static final Object[][] IMAGES = {{"2008_000001", 37, 23, 0}, {"2008_000002", 30, 41, 0},
        {"2008_000003", 20, 12, 6}, {"2008_000004", 33, 33, 0}};

    @TempDir
    static Path dir;
    static Path voc;
    static Path checkpoint;
    /** The plain whole-image evaluation every test compares against: its JSON and stdout. */
    static JsonNode whole;
    static String wholeOut;

    @BeforeAll
    static void trainOnVoc() throws IOException {
        voc = vocFixture(dir);
        assertEquals(0, Main.run(args("train", "--set", "work_dir=" + dir, "--set", "name=voc")));
        checkpoint = dir.resolve("voc/iter_000002.safetensors");
        assertTrue(Files.isRegularFile(checkpoint));
        assertTrue(Files.isRegularFile(dir.resolve("voc/best.safetensors")), "evaluated at the end");
        Path json = dir.resolve("whole.json");
        Object[] r = capture(args("eval", "--checkpoint", checkpoint.toString(), "--out", json.toString()));
        assertEquals(0, r[0], (String) r[2]);
        whole = new ObjectMapper().readTree(json.toFile());
        wholeOut = (String) r[1];
    }

    /** Writes {@link #IMAGES} as a VOC folder under {@code root}/VOCdevkit/VOC2012 and returns that folder. */
    static Path vocFixture(Path root) throws IOException {
        Path voc = root.resolve("VOCdevkit/VOC2012");
        for (Object[] im : IMAGES) {
            String id = (String) im[0];
            int w = (int) im[1];
            int h = (int) im[2];
            int orientation = (int) im[3];
            Fixtures.writeJpeg(voc.resolve("JPEGImages/" + id + ".jpg"),
                    Fixtures.rgb(w, h, (x, y) -> x < w / 2 ? 0xC02020 : 0x2020C0), orientation);
            boolean swap = orientation >= 5;
            int shownW = swap ? h : w;
            int shownH = swap ? w : h;
            Fixtures.writePalettePng(voc.resolve("SegmentationClass/" + id + ".png"), shownW, shownH,
                    Fixtures.thirds(shownW, shownH, 15));
        }
        Fixtures.writeLines(voc.resolve("ImageSets/Segmentation/train.txt"), "2008_000001", "2008_000002",
                "2008_000003", "2008_000004");
        Fixtures.writeLines(voc.resolve("ImageSets/Segmentation/val.txt"), "2008_000002", "2008_000003");
        return voc;
    }

    static String[] args(String command, String... extra) {
        List<String> a = new ArrayList<>(List.of(command));
        for (String s : SETS) {
            a.add("--set");
            a.add(s);
        }
        a.addAll(List.of("--set", "data.root=" + dir));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    /** Runs the CLI with stdout and stderr captured; returns {exit code, stdout, stderr}. */
    static Object[] capture(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            int rc = Main.run(args);
            return new Object[] {rc, o.toString(), e.toString()};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void evalWholeAndSlideAgreeWhenTheCropCoversTheImage() throws IOException {
        Path slide = dir.resolve("slide.json");
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--mode", "slide",
                "--set", "eval.crop_size=48", "--set", "eval.stride=32", "--out", slide.toString())));
        ObjectMapper json = new ObjectMapper();
        JsonNode a = whole;
        JsonNode b = json.readTree(slide.toFile());
        assertEquals(2, a.get("images").asInt());
        assertEquals(21, a.get("per_class").size());
        assertEquals("aeroplane", a.get("per_class").get(1).get("class").asText());
        assertEquals(a.get("mIoU").asDouble(), b.get("mIoU").asDouble(), 0.0);
        assertEquals(a.get("aAcc").asDouble(), b.get("aAcc").asDouble(), 0.0);
        // windows smaller than the images: runs, every metric present
        Path small = dir.resolve("small.json");
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--mode", "slide", "--flip",
                "--set", "eval.crop_size=16", "--set", "eval.stride=10", "--out", small.toString())));
        assertTrue(json.readTree(small.toFile()).get("aAcc").isNumber());
    }

    @Test
    void predictWritesMasksAndOverlaysOfTheShownSizes(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("masks");
        Path show = tmp.resolve("show");
        assertEquals(0, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input",
                voc.resolve("JPEGImages").toString(), "--out", out.toString(), "--show-dir", show.toString())));
        for (Object[] im : IMAGES) {
            String id = (String) im[0];
            boolean swap = (int) im[3] >= 5;
            int w = swap ? (int) im[2] : (int) im[1];
            int h = swap ? (int) im[1] : (int) im[2];
            LabelMap m = ImageFiles.readMask(out.resolve(id + ".png"), null);
            assertEquals(List.of(h, w), List.of(m.height(), m.width()), id);
            for (int v : m.labels()) {
                assertTrue(v >= 0 && v < 21, id + ": label " + v);
            }
            BufferedImage overlay = ImageIO.read(show.resolve(id + ".png").toFile());
            assertEquals(List.of(h, w), List.of(overlay.getHeight(), overlay.getWidth()), id);
        }
    }

    @Test
    void multiScaleEvalAndPredict(@TempDir Path tmp) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path one = tmp.resolve("one.json");
        Path three = tmp.resolve("three.json");
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--scales", "1.0",
                "--out", one.toString())));
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--scales", "0.75,1.0,1.25",
                "--flip", "--out", three.toString())));
        assertEquals(whole.get("mIoU").asDouble(), json.readTree(one.toFile()).get("mIoU").asDouble(), 0.0);
        JsonNode ms = json.readTree(three.toFile());
        assertEquals("[0.75,1.0,1.25]", ms.get("scales").toString());
        assertTrue(ms.get("aAcc").isNumber());
        Path out = tmp.resolve("masks");
        assertEquals(0, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input",
                voc.resolve("JPEGImages/2008_000003.jpg").toString(), "--out", out.toString(), "--scales", "0.5,1.5")));
        LabelMap m = ImageFiles.readMask(out.resolve("2008_000003.png"), null);
        assertEquals(List.of(20, 12), List.of(m.height(), m.width()), "EXIF-rotated size");
        assertEquals(2, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--scales", "0,1")));
    }

    /** Issue 12 item 6: eval with only --checkpoint uses the run's folder dataset, not the synthetic default. */
    @Test
    void evalOfAFolderDatasetCheckpointUsesItsOwnDataset(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("own.json");
        Object[] r = capture("eval", "--checkpoint", checkpoint.toString(), "--out", json.toString());
        assertEquals(0, r[0], (String) r[2]);
        assertTrue(((String) r[1]).contains("config: the run's own, from " + checkpoint), (String) r[1]);
        JsonNode own = new ObjectMapper().readTree(json.toFile());
        assertEquals(2, own.get("images").asInt(), "the VOC fixture's val.txt");
        assertEquals(21, own.get("per_class").size());
        assertEquals(whole.get("mIoU").asDouble(), own.get("mIoU").asDouble(), 0.0);
    }

    @Test
    void evalOverTheMemoryBudgetSlidesWithTheTrainingCrop(@TempDir Path tmp) throws IOException {
        Path budgeted = tmp.resolve("budgeted.json");
        Path slide = tmp.resolve("slide.json");
        Object[] r = capture(args("eval", "--checkpoint", checkpoint.toString(), "--set", "eval.memory_budget=1KiB",
                "--out", budgeted.toString()));
        assertEquals(0, r[0]);
        String out = (String) r[1];
        assertTrue(out.contains("over the memory budget of 1.0 KiB (eval.memory_budget)")
                && out.contains("slide mode, 24x24 windows, stride 16x16"), out);
        assertEquals(out.indexOf("whole-image inference of a"), out.lastIndexOf("whole-image inference of a"), "said once");
        assertTrue(out.contains(" on 2 images (slide 24x24 stride 16x16 (every whole image plans over the memory budget of 1.0 KiB: "
                + "eval.memory_budget), "), out);
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--mode", "slide",
                "--set", "eval.crop_size=24", "--set", "eval.stride=16", "--out", slide.toString())));
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(budgeted.toFile());
        JsonNode b = json.readTree(slide.toFile());
        assertEquals(b.get("mIoU").asDouble(), a.get("mIoU").asDouble(), 0.0);
        assertEquals(b.get("aAcc").asDouble(), a.get("aAcc").asDouble(), 0.0);
        // the default budget, the backend's free memory, holds these small images whole
        assertTrue(wholeOut.contains(" on 2 images (whole (largest plan ") && !wholeOut.contains("over the memory budget"), wholeOut);
    }

    @Test
    void predictUsesTheDatasetPalette(@TempDir Path tmp) throws IOException {
        Path folder = tmp.resolve("mine");
        String[] colours = new String[21];
        for (int c = 0; c < colours.length; c++) {
            colours[c] = (c * 12) + " " + (250 - c * 11) + " " + (c * 37 % 256);
        }
        Fixtures.writeLines(folder.resolve("palette.txt"), colours);
        Path input = voc.resolve("JPEGImages/2008_000001.jpg");
        Path out = tmp.resolve("masks");
        Path show = tmp.resolve("show");
        Object[] r = capture(args("predict", "--checkpoint", checkpoint.toString(), "--set", "data.type=folder",
                "--set", "data.root=" + folder, "--input", input.toString(), "--out", out.toString(),
                "--show-dir", show.toString(), "--opacity", "0.5"));
        assertEquals(0, r[0]);
        assertTrue(((String) r[1]).contains("colours: " + folder.resolve("palette.txt")), (String) r[1]);
        BufferedImage mask = ImageIO.read(out.resolve("2008_000001.png").toFile());
        IndexColorModel cm = (IndexColorModel) mask.getColorModel();
        for (int c = 0; c < colours.length; c++) {
            assertEquals(rgb(colours[c]), cm.getRGB(c) & 0xFFFFFF, "index " + c);
        }
        int[] labels = ImageFiles.readMask(out.resolve("2008_000001.png"), null).labels();
        RgbImage im = ImageFiles.readImage(input);
        BufferedImage overlay = ImageIO.read(show.resolve("2008_000001.png").toFile());
        for (int y = 0; y < im.height(); y++) {
            for (int x = 0; x < im.width(); x++) {
                int colour = rgb(colours[labels[y * im.width() + x]]);
                int got = overlay.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    int shift = 16 - 8 * c;
                    float expected = 0.5f * im.at(c, y, x) + 0.5f * (colour >> shift & 0xFF);
                    assertEquals(expected, got >> shift & 0xFF, 0.51f, "(" + x + ", " + y + ") channel " + c);
                }
            }
        }
        // without a palette.txt: the VOC colours (index 15, person, is (192, 128, 128))
        Path plain = tmp.resolve("plain");
        Object[] v = capture(args("predict", "--checkpoint", checkpoint.toString(), "--input", input.toString(),
                "--out", plain.toString()));
        assertTrue(((String) v[1]).contains("colours: the Pascal VOC palette"), (String) v[1]);
        IndexColorModel voc = (IndexColorModel) ImageIO.read(plain.resolve("2008_000001.png").toFile()).getColorModel();
        assertEquals(0xC08080, voc.getRGB(15) & 0xFFFFFF);
    }

    @Test
    void benchmarkReportsTimePerImage() {
        Object[] r = capture(args("benchmark", "--checkpoint", checkpoint.toString(), "--images", "3", "--warmup", "1",
                "--size", "24x20", "--log-interval", "2"));
        assertEquals(0, r[0]);
        String out = (String) r[1];
        assertTrue(out.matches("(?s).*done image \\[2/3\\].*benchmark: 3 images \\(24x20 random\\) after 1 warm-up, "
                + "whole \\(largest plan [0-9.]+ [KMG]i?B, within the memory budget of [0-9.]+ [KMG]iB: free host memory[^)]*\\)\\): "
                + "[0-9.]+ ms/image, [0-9.]+ images/s.*"), out);
        Object[] v = capture(args("bench", "--checkpoint", checkpoint.toString(), "--images", "2", "--warmup", "0",
                "--mode", "slide", "--set", "eval.crop_size=16", "--set", "eval.stride=16"));
        assertEquals(0, v[0]);
        assertTrue(((String) v[1]).contains("(validation split, 2 distinct) after 0 warm-up, slide 16x16 stride 16x16"),
                (String) v[1]);
        assertEquals(2, Main.run(args("benchmark", "--checkpoint", checkpoint.toString(), "--images", "0")));
    }

    @Test
    void badDataNamesTheFileOrIsSkippedWithACount(@TempDir Path tmp) throws IOException {
        Path bad = vocFixture(tmp);
        Fixtures.writePalettePng(bad.resolve("SegmentationClass/2008_000002.png"), 41, 30, Fixtures.fill(41 * 30, 0));
        String[] train = {"--set", "data.root=" + tmp, "--set", "work_dir=" + tmp, "--set", "name=bad",
            "--set", "train.iters=1"};
        Object[] r = capture(concat(args("train"), train));
        assertEquals(2, r[0], (String) r[2]);
        String err = (String) r[2];
        assertTrue(err.startsWith("leanseg train: " + bad.resolve("SegmentationClass/2008_000002.png") + ": the mask is 41x30")
                && err.contains("is 30x41") && !err.contains("\tat "), err);
        Object[] skip = capture(concat(args("train"), train, new String[] {"--set", "data.skip_bad=true"}));
        assertEquals(0, skip[0], (String) skip[2]);
        assertTrue(((String) skip[2]).contains("skipped 1 of 4 samples listed in " + bad.resolve("ImageSets/Segmentation/train.txt"))
                && ((String) skip[2]).contains("skipped 1 of 2 samples listed in "), (String) skip[2]);

        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.copy(bad.resolve("JPEGImages/2008_000001.jpg"), in.resolve("a.jpg"));
        byte[] jpeg = Files.readAllBytes(bad.resolve("JPEGImages/2008_000002.jpg"));
        Files.write(in.resolve("b.jpg"), java.util.Arrays.copyOf(jpeg, jpeg.length / 2));
        Object[] p = capture(args("predict", "--checkpoint", checkpoint.toString(), "--input", in.toString(),
                "--out", tmp.resolve("masks").toString()));
        assertEquals(2, p[0]);
        assertTrue(((String) p[2]).contains(in.resolve("b.jpg") + ": the image is") && ((String) p[2]).contains("truncated")
                && ((String) p[2]).contains("1 of 2 images done before this one"), (String) p[2]);
        assertEquals(37 * 23, ImageFiles.readMask(tmp.resolve("masks/a.png"), null).labels().length, "complete");
    }

    private static String[] concat(String[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
    }

    private static int rgb(String line) {
        String[] p = line.split(" ");
        return Integer.parseInt(p[0]) << 16 | Integer.parseInt(p[1]) << 8 | Integer.parseInt(p[2]);
    }
}
