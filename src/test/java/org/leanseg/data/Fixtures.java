package org.leanseg.data;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Builds small dataset files for tests: JPEGs (optionally with a hand-written EXIF orientation
 * segment), palette, grayscale (8/16-bit) and RGB PNG masks, and VOC / folder layouts. Public for
 * the command-line tests in {@code org.leanseg.cli}.
 */
public final class Fixtures {
    private Fixtures() {
    }

    /** An RGB image whose pixel (x, y) is {@code colour.at(x, y)} (0xRRGGBB). */
    public interface Colour {
        int at(int x, int y);
    }

    public static BufferedImage rgb(int w, int h, Colour colour) {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                im.setRGB(x, y, colour.at(x, y));
            }
        }
        return im;
    }

    public static void writeJpeg(Path file, BufferedImage im, int exifOrientation) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(im, "jpg", bytes);
        byte[] jpeg = bytes.toByteArray();
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (exifOrientation == 0) {
            Files.write(file, jpeg);
            return;
        }
        byte[] app1 = exifSegment(exifOrientation);
        byte[] out = new byte[jpeg.length + app1.length];
        out[0] = jpeg[0]; // SOI, then our APP1, then the rest (APP0 JFIF, tables, scan)
        out[1] = jpeg[1];
        System.arraycopy(app1, 0, out, 2, app1.length);
        System.arraycopy(jpeg, 2, out, 2 + app1.length, jpeg.length - 2);
        Files.write(file, out);
    }

    /** APP1: "Exif\0\0", big-endian TIFF header, IFD0 with one SHORT entry 0x0112. */
    public static byte[] exifSegment(int orientation) {
        byte[] tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at offset 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte) orientation, 0, 0, // tag, SHORT, count 1, value
            0, 0, 0, 0}; // no next IFD
        byte[] exif = {'E', 'x', 'i', 'f', 0, 0};
        int len = 2 + exif.length + tiff.length;
        byte[] seg = new byte[2 + len];
        seg[0] = (byte) 0xFF;
        seg[1] = (byte) 0xE1;
        seg[2] = (byte) (len >> 8);
        seg[3] = (byte) len;
        System.arraycopy(exif, 0, seg, 4, exif.length);
        System.arraycopy(tiff, 0, seg, 4 + exif.length, tiff.length);
        return seg;
    }

    public static void writePalettePng(Path file, int w, int h, int[] labels) throws IOException {
        ImageFiles.writeIndexPng(file, new LabelMap(h, w, labels), Palette.voc());
    }

    public static void writeGrayPng(Path file, int w, int h, int[] values, boolean sixteenBit) throws IOException {
        BufferedImage im = new BufferedImage(w, h,
                sixteenBit ? BufferedImage.TYPE_USHORT_GRAY : BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = im.getRaster();
        r.setSamples(0, 0, w, h, 0, values);
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(im, "png", file.toFile());
    }

    public static void writeRgbPng(Path file, BufferedImage im) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(im, "png", file.toFile());
    }

    public static void writeLines(Path file, String... lines) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, List.of(lines), StandardCharsets.UTF_8);
    }

    public static int[] fill(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }

    /** Mask w x h: left third 0, middle third {@code a}, right third 255. */
    public static int[] thirds(int w, int h, int a) {
        int[] m = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                m[y * w + x] = x < w / 3 ? 0 : x < 2 * w / 3 ? a : 255;
            }
        }
        return m;
    }

    /** A VOC folder with one image per id (w x h, grey) and palette masks of {@link #thirds}. */
    public static Path voc(Path root, int w, int h, String... ids) throws IOException {
        for (String id : ids) {
            writeJpeg(root.resolve("JPEGImages/" + id + ".jpg"), rgb(w, h, (x, y) -> 0x808080), 0);
            writePalettePng(root.resolve("SegmentationClass/" + id + ".png"), w, h, thirds(w, h, 15));
        }
        writeLines(root.resolve("ImageSets/Segmentation/train.txt"), ids);
        return root;
    }
}
