package org.leanseg.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;
import org.leanseg.tensor.Shape;

/** VOC and folder layouts on small fixtures, and every bad-input case (fail or skip-bad). */
class FileDatasetTest {
    @TempDir
    Path dir;

    private static int[] labels(Dataset.Sample s) {
        float[] d = s.label().data();
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
        }
        return out;
    }

    private static DatasetException fails(Runnable r, String... needles) {
        DatasetException e = assertThrows(DatasetException.class, r::run);
        for (String n : needles) {
            assertTrue(e.getMessage().contains(n), "'" + n + "' in: " + e.getMessage());
        }
        return e;
    }

    @Test
    void vocLayoutOddSizesWholeImage() throws IOException {
        Path voc = Fixtures.voc(dir.resolve("VOCdevkit/VOC2012"), 37, 23, "2007_000001", "2007_000002");
        VocDataset ds = new VocDataset(dir, "train", FileDataset.Options.evaluation()); // finds VOCdevkit/VOC2012
        assertEquals(2, ds.size());
        assertEquals(21, ds.numClasses());
        assertEquals("aeroplane", ds.classNames().get(1));
        Dataset.Sample s = ds.get(1, null);
        assertEquals("2007_000002", s.id());
        assertEquals(Shape.of(3, 23, 37), s.image().shape());
        assertEquals(Shape.of(23, 37), s.label().shape());
        assertArrayEquals(Fixtures.thirds(37, 23, 15), labels(s), "palette indices, not colours");
        float expected = (128 - 123.675f) / 58.395f; // grey 128, normalised R
        assertEquals(expected, s.image().get(0, 11, 18), 3 / 58.395f, "JPEG grey within 3 levels");
        assertEquals(voc.resolve("JPEGImages/2007_000002.jpg"), ds.entry(1).image());
    }

    @Test
    void vocAugMasksAndExifPortrait() throws IOException {
        Path voc = dir.resolve("voc");
        // Stored 20x12 landscape with orientation 8; shown (and annotated) as 12x20 portrait.
        Fixtures.writeJpeg(voc.resolve("JPEGImages/p.jpg"), Fixtures.rgb(20, 12, (x, y) -> 0x406080), 8);
        int[] mask = Fixtures.thirds(12, 20, 3);
        Fixtures.writeGrayPng(voc.resolve("SegmentationClassAug/p.png"), 12, 20, mask, false);
        Fixtures.writeLines(voc.resolve("ImageSets/Segmentation/trainaug.txt"), "p");
        VocDataset ds = new VocDataset(voc, "trainaug", FileDataset.Options.evaluation());
        Dataset.Sample s = ds.get(0, null);
        assertEquals(Shape.of(3, 20, 12), s.image().shape());
        assertArrayEquals(mask, labels(s));

        Fixtures.writeJpeg(voc.resolve("JPEGImages/p.jpg"), Fixtures.rgb(20, 12, (x, y) -> 0x406080), 0);
        fails(() -> ds.get(0, null), "p.png", "mask is 12x20", "is 20x12", "EXIF orientation");
    }

    @Test
    void sixteenBitMasks() throws IOException {
        Path voc = Fixtures.voc(dir, 9, 5, "a", "b");
        int[] m = Fixtures.thirds(9, 5, 7);
        Fixtures.writeGrayPng(voc.resolve("SegmentationClass/a.png"), 9, 5, m, true);
        VocDataset ds = new VocDataset(voc, "train", FileDataset.Options.evaluation());
        assertArrayEquals(m, labels(ds.get(0, null)));
        int[] scaled = m.clone();
        for (int i = 0; i < scaled.length; i++) {
            scaled[i] = scaled[i] == 255 ? 65535 : scaled[i] * 257;
        }
        Fixtures.writeGrayPng(voc.resolve("SegmentationClass/b.png"), 9, 5, scaled, true);
        fails(() -> ds.get(1, null), "b.png", "neither a class index (0..20) nor 255", "16-bit-scaled");
    }

    @Test
    void folderLayoutWithListFormsAndPalette() throws IOException {
        Path root = dir.resolve("mine");
        Fixtures.writeLines(root.resolve("classes.txt"), "background", "road", "car");
        Fixtures.writeLines(root.resolve("palette.txt"), "0 0 0", "128 64 128", "0 0 142");
        Fixtures.writeRgbPng(root.resolve("images/a.png"), Fixtures.rgb(6, 4, (x, y) -> 0x102030));
        Fixtures.writeJpeg(root.resolve("images/b.jpeg"), Fixtures.rgb(5, 3, (x, y) -> 0x102030), 0);
        Fixtures.writeRgbPng(root.resolve("other/c.png"), Fixtures.rgb(2, 2, (x, y) -> 0));
        Fixtures.writeGrayPng(root.resolve("labels/a.png"), 6, 4, Fixtures.thirds(6, 4, 2), false);
        Fixtures.writeRgbPng(root.resolve("labels/b.png"),
                Fixtures.rgb(5, 3, (x, y) -> x < 2 ? 0x804080 : 0x00008E)); // RGB mask via palette.txt
        Fixtures.writeGrayPng(root.resolve("other/c_mask.png"), 2, 2, new int[] {0, 1, 2, 255}, false);
        Fixtures.writeLines(root.resolve("train.txt"), "a", "b.jpeg", "other/c.png other/c_mask.png");
        FolderDataset ds = new FolderDataset(root, "train", FileDataset.Options.evaluation());
        assertEquals(List.of("background", "road", "car"), ds.classNames());
        assertEquals(List.of("a", "b", "c"), List.of(ds.get(0, null).id(), ds.get(1, null).id(), ds.get(2, null).id()));
        assertArrayEquals(new int[] {1, 1, 2, 2, 2, 1, 1, 2, 2, 2, 1, 1, 2, 2, 2}, labels(ds.get(1, null)));
        assertArrayEquals(new int[] {0, 1, 2, 255}, labels(ds.get(2, null)));

        Fixtures.writeRgbPng(root.resolve("labels/b.png"), Fixtures.rgb(5, 3, (x, y) -> 0x00FF00));
        fails(() -> ds.get(1, null), "b.png", "not in " + root.resolve("palette.txt"), "RGB (0, 255, 0)");
    }

    @Test
    void folderSplitSubfolder() throws IOException {
        Path root = dir.resolve("f");
        Fixtures.writeLines(root.resolve("classes.txt"), "bg", "thing");
        for (String n : new String[] {"z", "a"}) {
            Fixtures.writeRgbPng(root.resolve("val/images/" + n + ".png"), Fixtures.rgb(3, 3, (x, y) -> 0));
            Fixtures.writeGrayPng(root.resolve("val/labels/" + n + ".png"), 3, 3, Fixtures.fill(9, 1), false);
        }
        FolderDataset ds = new FolderDataset(root, "val", FileDataset.Options.evaluation());
        assertEquals("a", ds.get(0, null).id(), "sorted by name");
        fails(() -> new FolderDataset(root, "test", FileDataset.Options.evaluation()), "test.txt",
                "no list file for split 'test'");
    }

    @Test
    void badInputsFailWithOneClearError() throws IOException {
        Path voc = Fixtures.voc(dir, 8, 6, "ok", "gone", "junk", "size", "values");
        Files.delete(voc.resolve("JPEGImages/gone.jpg"));
        fails(() -> new VocDataset(voc, "train", FileDataset.Options.evaluation()), "gone.jpg", "1 of 5 entries",
                "train.txt:2", "does not exist", "skip_bad");
        Fixtures.writeJpeg(voc.resolve("JPEGImages/gone.jpg"), Fixtures.rgb(8, 6, (x, y) -> 0), 0);
        Files.write(voc.resolve("JPEGImages/junk.jpg"), "not a jpeg".getBytes());
        Fixtures.writePalettePng(voc.resolve("SegmentationClass/size.png"), 6, 8, Fixtures.fill(48, 0));
        Fixtures.writePalettePng(voc.resolve("SegmentationClass/values.png"), 8, 6, Fixtures.thirds(8, 6, 21));
        VocDataset ds = new VocDataset(voc, "train", FileDataset.Options.evaluation());
        fails(() -> ds.get(2, null), "junk.jpg", "not in a format Java can decode");
        fails(() -> ds.get(3, null), "size.png", "mask is 6x8", "8x6");
        DatasetException v = fails(() -> ds.get(4, null), "values.png", "18 pixel(s)", "values [21]",
                "data.num_classes");
        assertEquals(voc.resolve("SegmentationClass/values.png"), v.file());

        Fixtures.writeLines(voc.resolve("ImageSets/Segmentation/empty.txt"), "", "# nothing");
        fails(() -> new VocDataset(voc, "empty", FileDataset.Options.evaluation()), "empty.txt", "list is empty");
        fails(() -> new VocDataset(voc, "nosuch", FileDataset.Options.evaluation()), "nosuch.txt",
                "[empty, train]");
        fails(() -> new VocDataset(dir.resolve("nowhere"), "train", FileDataset.Options.evaluation()),
                "not a Pascal VOC folder");
        Fixtures.writeLines(dir.resolve("train.txt"), "ok");
        fails(() -> new FolderDataset(dir, "train", FileDataset.Options.evaluation()), "classes.txt",
                "does not exist");
    }

    @Test
    void skipBadWarnsAndCounts() throws IOException {
        Path voc = Fixtures.voc(dir, 8, 6, "ok", "gone", "junk", "size", "values", "ok2");
        Files.delete(voc.resolve("SegmentationClass/gone.png"));
        Files.write(voc.resolve("JPEGImages/junk.jpg"), "not a jpeg".getBytes());
        Fixtures.writePalettePng(voc.resolve("SegmentationClass/size.png"), 6, 8, Fixtures.fill(48, 0));
        Fixtures.writePalettePng(voc.resolve("SegmentationClass/values.png"), 8, 6, Fixtures.thirds(8, 6, 40));
        List<String> warnings = new ArrayList<>();
        FileDataset.Options opts = FileDataset.Options.training(Augment.Settings.defaults(4, 4))
                .withSkipBad(true, warnings::add);
        VocDataset ds = new VocDataset(voc, "train", opts);
        assertEquals(2, ds.size());
        assertEquals(4, ds.skipped());
        assertEquals(List.of("ok", "ok2"), List.of(ds.get(0, null).id(), ds.get(1, new SplittableRandom(1)).id()));
        assertEquals(5, warnings.size(), String.join("\n", warnings));
        for (String id : List.of("gone", "junk", "size", "values")) {
            assertTrue(warnings.stream().anyMatch(w -> w.startsWith("data: skipping " + id + ": ")), id);
        }
        assertTrue(warnings.get(4).contains("skipped 4 of 6 samples"), warnings.get(4));
    }

    @Test
    void augmentedSamplesHaveTheCropSize() throws IOException {
        Path voc = Fixtures.voc(dir, 31, 17, "a");
        VocDataset ds = new VocDataset(voc, "train", FileDataset.Options.training(Augment.Settings.defaults(24, 20)));
        Dataset.Sample s = ds.get(0, new SplittableRandom(3));
        assertEquals(Shape.of(3, 24, 20), s.image().shape());
        assertEquals(Shape.of(24, 20), s.label().shape());
        assertEquals(Shape.of(3, 17, 31), ds.get(0, null).image().shape(), "null rnd: whole image");
    }

    @Test
    void openFromConfig() throws IOException {
        Fixtures.voc(dir, 19, 11, "a", "b");
        Fixtures.writeLines(dir.resolve("ImageSets/Segmentation/val.txt"), "b");
        TrainingConfig cfg = TrainingConfig.load(null, List.of("data.type=voc", "data.root=" + dir,
                "data.num_classes=21", "data.crop_size=[8, 6]"));
        FileDataset train = Datasets.open(cfg.data(), "train", true, false, s -> { });
        assertEquals(Shape.of(3, 8, 6), train.get(0, new SplittableRandom(0)).image().shape());
        FileDataset val = Datasets.open(cfg.data(), cfg.data().valSplit(), false, false, s -> { });
        assertEquals(Shape.of(3, 11, 19), val.get(0, new SplittableRandom(0)).image().shape());
        TrainingConfig six = TrainingConfig.load(null, List.of("data.type=voc", "data.root=" + dir,
                "data.num_classes=6"));
        fails(() -> Datasets.open(six.data(), "train", false, false, s -> { }), "data.num_classes is 6",
                "has 21 classes", "set data.num_classes=21");
    }

    @Test
    void binaryZeroAnd255MasksWarnOnce() throws IOException {
        Path root = dir.resolve("bin");
        Fixtures.writeLines(root.resolve("classes.txt"), "background", "object");
        for (int i = 0; i < FileDataset.BINARY_CHECK_MASKS + 2; i++) {
            Fixtures.writeRgbPng(root.resolve("train/images/" + i + ".png"), Fixtures.rgb(2, 2, (x, y) -> 0));
            Fixtures.writeGrayPng(root.resolve("train/labels/" + i + ".png"), 2, 2, new int[] {0, 255, 255, 0},
                    false);
        }
        List<String> warnings = new ArrayList<>();
        FolderDataset ds = new FolderDataset(root, "train", FileDataset.Options.evaluation()
                .withSkipBad(false, warnings::add));
        for (int i = 0; i < ds.size(); i++) {
            ds.get(i, null);
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("binary masks"), warnings.get(0));
    }

    @Test
    void labelMapTurnsRawValuesIntoClassIndices() throws IOException {
        Path root = dir.resolve("city");
        List<String> names = new ArrayList<>();
        for (int c = 0; c < 19; c++) {
            names.add("class" + c);
        }
        Fixtures.writeLines(root.resolve("classes.txt"), names.toArray(String[]::new));
        Fixtures.writeRgbPng(root.resolve("images/aachen_1.png"), Fixtures.rgb(4, 2, (x, y) -> 0x808080));
        // Cityscapes labelIds: road 7, sidewalk 8, car 26, unlabeled 0, 255, bicycle 33, ego vehicle 1, sky 23
        Fixtures.writeGrayPng(root.resolve("gtFine/aachen_1_gtFine_labelIds.png"), 4, 2,
                new int[] {7, 8, 26, 0, 255, 33, 1, 23}, false);
        Fixtures.writeLines(root.resolve("val.txt"), "images/aachen_1.png gtFine/aachen_1_gtFine_labelIds.png");
        TrainingConfig cfg = TrainingConfig.load(null, List.of("data.type=folder", "data.root=" + root,
                "data.num_classes=19", "data.label_map=cityscapes"));
        FileDataset ds = Datasets.open(cfg.data(), "val", false, false, s -> { });
        assertArrayEquals(new int[] {0, 1, 13, 255, 255, 18, 255, 10}, labels(ds.get(0, null)));
        assertEquals(19, cfg.data().labelMap().size());

        TrainingConfig custom = TrainingConfig.load(null, List.of("data.type=folder", "data.root=" + root,
                "data.num_classes=19", "data.label_map={7: 3, 26: 4}"));
        assertArrayEquals(new int[] {3, 255, 4, 255, 255, 255, 255, 255},
                labels(Datasets.open(custom.data(), "val", false, false, s -> { }).get(0, null)));
        // without the map, the raw ids are out of range: the error points at data.label_map
        TrainingConfig raw = TrainingConfig.load(null, List.of("data.type=folder", "data.root=" + root,
                "data.num_classes=19"));
        fails(() -> Datasets.open(raw.data(), "val", false, false, s -> { }).get(0, null),
                "aachen_1_gtFine_labelIds.png", "neither a class index (0..18)", "values [23, 26, 33]");
        LabelRemap r = LabelRemap.of(java.util.Map.of(7, 0));
        assertEquals(255, r.map(8));
        assertEquals(255, r.map(70000));
    }
}
