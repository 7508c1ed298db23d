package org.leanseg.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding of images and masks: EXIF orientation, gray, palette, 16-bit and RGB masks. */
class ImageFilesTest {
    @TempDir
    Path dir;

    private static final int RED = 0xFF0000;
    private static final int BLUE = 0x0000FF;

    /** A 2x3 (h x w) image with values 0..5 in every channel, oriented, as rows. */
    private static String orient(int orientation) {
        float[] chw = new float[18];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 6; i++) {
                chw[c * 6 + i] = i;
            }
        }
        RgbImage o = new RgbImage(2, 3, chw).oriented(orientation);
        StringBuilder sb = new StringBuilder();
        for (int y = 0; y < o.height(); y++) {
            sb.append(y == 0 ? "" : "|");
            for (int x = 0; x < o.width(); x++) {
                sb.append((int) o.at(2, y, x));
            }
        }
        return sb.toString();
    }

    /** A PNG whose header declares 60000x60000 pixels (a damaged or hostile header): refused before decoding, not an OutOfMemoryError. */
    @Test
    void aHugeDeclaredSizeIsRefusedBeforeDecoding() throws IOException {
        Path p = dir.resolve("huge.png");
        Files.copy(Path.of("src/test/resources/org/leanseg/fuzz/ReaderFuzzTestInputs/mask/huge-declared-size.png"), p);
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFiles.readMask(p, null));
        assertTrue(e.getMessage().contains("declares 60000x60000 pixels"), e.getMessage());
    }

    @Test
    void everyExifOrientationByHand() {
        // stored:  012
        //          345
        assertEquals("012|345", orient(1));
        assertEquals("210|543", orient(2)); // mirror horizontal
        assertEquals("543|210", orient(3)); // rotate 180
        assertEquals("345|012", orient(4)); // mirror vertical
        assertEquals("03|14|25", orient(5)); // transpose
        assertEquals("30|41|52", orient(6)); // rotate 90 clockwise
        assertEquals("52|41|30", orient(7)); // transverse
        assertEquals("25|14|03", orient(8)); // rotate 90 counter-clockwise
    }

    @Test
    void jpegExifOrientationIsApplied() throws IOException {
        // Stored 32 wide, 16 high: left half red, right half blue. Orientation 6 shows it rotated
        // 90 degrees clockwise: 16 wide, 32 high, red on top.
        Path f = dir.resolve("portrait.jpg");
        Fixtures.writeJpeg(f, Fixtures.rgb(32, 16, (x, y) -> x < 16 ? RED : BLUE), 6);
        assertEquals(6, Exif.orientation(Files.readAllBytes(f)));
        assertEquals(32, ImageIO.read(f.toFile()).getWidth(), "ImageIO itself ignores the orientation");
        RgbImage im = ImageFiles.readImage(f);
        assertEquals(16, im.width());
        assertEquals(32, im.height());
        assertTrue(im.at(0, 4, 8) > 200 && im.at(2, 4, 8) < 60, "top is red");
        assertTrue(im.at(0, 28, 8) < 60 && im.at(2, 28, 8) > 200, "bottom is blue");
    }

    @Test
    void exifParserToleratesJunk() {
        assertEquals(1, Exif.orientation(new byte[] {1, 2, 3}));
        assertEquals(1, Exif.orientation(new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE1, 0, 2}));
        byte[] seg = Fixtures.exifSegment(9); // out of range
        byte[] jpeg = new byte[seg.length + 4];
        jpeg[0] = (byte) 0xFF;
        jpeg[1] = (byte) 0xD8;
        System.arraycopy(seg, 0, jpeg, 2, seg.length);
        jpeg[jpeg.length - 2] = (byte) 0xFF;
        jpeg[jpeg.length - 1] = (byte) 0xD9;
        assertEquals(1, Exif.orientation(jpeg));
    }

    @Test
    void grayscaleImagesBecomeEqualChannels() throws IOException {
        Path f = dir.resolve("gray.png");
        int[] v = {0, 10, 128, 255, 77, 200};
        Fixtures.writeGrayPng(f, 3, 2, v, false);
        RgbImage im = ImageFiles.readImage(f);
        for (int i = 0; i < 6; i++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(v[i], im.at(c, i / 3, i % 3), "gray values are kept exactly (no gamma)");
            }
        }
        Path g = dir.resolve("gray16.png");
        Fixtures.writeGrayPng(g, 3, 2, new int[] {0, 65535, 257 * 100, 0, 0, 0}, true);
        RgbImage im16 = ImageFiles.readImage(g);
        assertEquals(255, im16.at(1, 0, 1));
        assertEquals(100, im16.at(2, 0, 2));
    }

    @Test
    void paletteMaskGivesIndicesNotColours() throws IOException {
        Path f = dir.resolve("m.png");
        int[] labels = {0, 1, 15, 255, 20, 3};
        Fixtures.writePalettePng(f, 3, 2, labels);
        BufferedImage raw = ImageIO.read(f.toFile());
        assertEquals(Palette.voc().colour(15), raw.getRGB(2, 0) & 0xFFFFFF, "stored with VOC colours");
        assertArrayEquals(labels, ImageFiles.readMask(f, null).labels());
    }

    @Test
    void sixteenBitGrayMaskGivesRawIndices() throws IOException {
        Path f = dir.resolve("m16.png");
        int[] labels = {0, 1, 2, 255, 2, 1};
        Fixtures.writeGrayPng(f, 3, 2, labels, true);
        assertArrayEquals(labels, ImageFiles.readMask(f, null).labels());
    }

    @Test
    void rgbMaskNeedsPaletteAndKnownColours() throws IOException {
        Path f = dir.resolve("rgb.png");
        Palette voc = Palette.voc();
        Fixtures.writeRgbPng(f, Fixtures.rgb(4, 2, (x, y) -> voc.colour(x == 3 ? 255 : x)));
        DatasetException none = assertThrows(DatasetException.class, () -> ImageFiles.readMask(f, null));
        assertTrue(none.getMessage().contains("RGB colour image") && none.getMessage().contains("palette.txt"),
                none.getMessage());
        assertArrayEquals(new int[] {0, 1, 2, 255, 0, 1, 2, 255}, ImageFiles.readMask(f, voc).labels());

        Path bad = dir.resolve("rgb-bad.png");
        Fixtures.writeRgbPng(bad, Fixtures.rgb(4, 2, (x, y) -> y == 1 && x == 2 ? 0x123456 : 0));
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFiles.readMask(bad, voc));
        assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("(x=2, y=1): RGB (18, 52, 86)"), e.getMessage());
        assertTrue(e.getMessage().contains("Pascal VOC palette"), e.getMessage());
    }

    @Test
    void paletteFileFormat() throws IOException {
        Path f = dir.resolve("palette.txt");
        Fixtures.writeLines(f, "# background", "0 0 0", "128, 0, 0", "", "255 224 224 192");
        Palette p = Palette.read(f);
        assertEquals(0, p.indexOf(0));
        assertEquals(1, p.indexOf(0x800000));
        assertEquals(255, p.indexOf(0xE0E0C0));
        assertEquals(-1, p.indexOf(0x00FF00));
        Fixtures.writeLines(f, "0 0");
        DatasetException e = assertThrows(DatasetException.class, () -> Palette.read(f));
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    }

    @Test
    void unreadableFilesSayWhy() throws IOException {
        Path junk = dir.resolve("junk.jpg");
        Files.write(junk, new byte[] {1, 2, 3, 4, 5});
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFiles.readImage(junk));
        assertTrue(e.getMessage().startsWith(junk.toString()) && e.getMessage().contains("convert it"),
                e.getMessage());
        DatasetException missing = assertThrows(DatasetException.class,
                () -> ImageFiles.readImage(dir.resolve("none.jpg")));
        assertTrue(missing.getMessage().contains("missing"), missing.getMessage());
        assertEquals(dir.resolve("none.jpg"), missing.file());
    }

    @Test
    void truncatedFilesAreErrorsNotGrey() throws IOException {
        Path whole = dir.resolve("whole.jpg");
        Fixtures.writeJpeg(whole, Fixtures.rgb(64, 48, (x, y) -> (x * 4 << 16) | (y * 5 << 8) | (x * y & 0xFF)), 0);
        byte[] bytes = Files.readAllBytes(whole);
        assertEquals(64, ImageFiles.readImage(whole).width());
        Path cut = dir.resolve("cut.jpg");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFiles.readImage(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()) && e.getMessage().contains("truncated")
                && e.getMessage().contains("skip_bad"), e.getMessage());

        Path png = dir.resolve("cut.png");
        Fixtures.writeRgbPng(png, Fixtures.rgb(64, 48, (x, y) -> x * y));
        byte[] p = Files.readAllBytes(png);
        Files.write(png, java.util.Arrays.copyOf(p, p.length / 2));
        DatasetException m = assertThrows(DatasetException.class, () -> ImageFiles.readMask(png, null));
        assertTrue(m.getMessage().startsWith(png.toString()) && m.getMessage().contains("corrupt or truncated"),
                m.getMessage());
    }

    @Test
    void palettePngMustAgreeWithTheDatasetPalette() throws IOException {
        Path pal = dir.resolve("palette.txt");
        Fixtures.writeLines(pal, "0 0 0", "128 64 128", "0 0 142");
        Palette own = Palette.read(pal);
        Path agree = dir.resolve("agree.png");
        ImageFiles.writeIndexPng(agree, new LabelMap(1, 4, new int[] {0, 1, 2, 255}), own);
        assertArrayEquals(new int[] {0, 1, 2, 255}, ImageFiles.readMask(agree, own).labels(), "255 unlisted: ignore");

        Path vocColours = dir.resolve("voc.png"); // index 1 is VOC's (128, 0, 0): not in palette.txt
        Fixtures.writePalettePng(vocColours, 3, 1, new int[] {0, 0, 1});
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFiles.readMask(vocColours, own));
        assertTrue(e.getMessage().startsWith(vocColours.toString())
                && e.getMessage().contains("index 1 has colour RGB (128, 0, 0), which is not in " + pal)
                && e.getMessage().contains("remove the palette file"), e.getMessage());
        assertArrayEquals(new int[] {0, 0, 1}, ImageFiles.readMask(vocColours, Palette.voc()).labels(), "VOC: indices");
        assertArrayEquals(new int[] {0, 0, 1}, ImageFiles.readMask(vocColours, null).labels());

        Path swapped = dir.resolve("swapped.png"); // index 1 drawn in class 2's colour
        Fixtures.writeLines(dir.resolve("other.txt"), "0 0 0", "0 0 142", "128 64 128");
        ImageFiles.writeIndexPng(swapped, new LabelMap(1, 2, new int[] {0, 1}), Palette.read(dir.resolve("other.txt")));
        DatasetException s = assertThrows(DatasetException.class, () -> ImageFiles.readMask(swapped, own));
        assertTrue(s.getMessage().contains("index 1 has colour RGB (0, 0, 142), which " + pal + " gives to class 2"),
                s.getMessage());
    }
}
