package org.leanseg.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.leanseg.io.AtomicFiles;

/**
 * Decodes dataset images and masks with javax.imageio and writes index PNGs. Images become RGB
 * in [0, 255] whatever their storage (8/16-bit, grayscale, palette, alpha dropped) with the JPEG
 * EXIF orientation applied. Masks are read as class indices, never as colours: a palette PNG
 * gives its palette index (Pascal VOC), a grayscale PNG its value (8- or 16-bit), and an RGB mask
 * only with a {@link Palette} that maps each colour back to its index. With a dataset's own palette
 * file, a palette PNG's colours must agree with it (else index and colour would disagree).
 *
 * <pre>{@code
 * RgbImage im = ImageFiles.readImage(Path.of("JPEGImages/a.jpg"));
 * LabelMap m = ImageFiles.readMask(Path.of("SegmentationClass/a.png"), null);
 * ImageFiles.writeIndexPng(out.resolve("a.png"), m, Palette.voc());
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=ImageFilesTest}.
 */
public final class ImageFiles {
    private static final float MAX_8BIT = 255f;
    /** Largest image decoded (2^27 pixels, e.g. 11585x11585): above it a header is more likely damaged than real, and decoding would exhaust the heap. */
    static final long MAX_PIXELS = 1L << 27;

    private ImageFiles() {
    }

    /** Decodes an image to RGB [0, 255], EXIF orientation applied; one clear error when it cannot. */
    public static RgbImage readImage(Path file) {
        byte[] bytes = readBytes(file, "image");
        BufferedImage im = decode(file, bytes, "image");
        return toRgb(im).oriented(Exif.orientation(bytes));
    }

    /**
     * Decodes a mask to class indices. {@code rgbPalette} maps the colours of RGB masks (null: RGB
     * masks are an error); palette and grayscale masks are read as indices, a palette PNG's colour
     * table checked against {@code rgbPalette} when that is a dataset's own (not VOC's).
     * Values are not checked against the class count here; see {@link FileDataset}.
     */
    public static LabelMap readMask(Path file, Palette rgbPalette) {
        BufferedImage im = decode(file, readBytes(file, "mask"), "mask");
        Raster r = im.getRaster();
        ColorModel cm = im.getColorModel();
        int h = im.getHeight();
        int w = im.getWidth();
        int[] labels = new int[h * w];
        if (cm instanceof IndexColorModel || r.getNumBands() <= 2 && isGray(cm)) {
            r.getSamples(0, 0, w, h, 0, labels); // palette index or gray value (8 or 16 bits)
            if (cm instanceof IndexColorModel icm && rgbPalette != null && rgbPalette != Palette.voc()) {
                checkColourTable(file, icm, labels, rgbPalette);
            }
            return new LabelMap(h, w, labels);
        }
        if (rgbPalette == null) {
            throw new DatasetException(file, "the mask is an RGB colour image, but masks hold class indices; save it "
                    + "as a palette or grayscale PNG of class indices (0..N-1, 255 = ignore), or list its colours "
                    + "in the dataset's palette.txt so they can be mapped to indices");
        }
        mapColours(file, im, rgbPalette, labels);
        return new LabelMap(h, w, labels);
    }

    /**
     * A palette PNG read where the dataset's palette.txt gives the class colours (RGB-mask mode):
     * its indices are classes only if its colour table agrees with palette.txt for every index it
     * uses. Otherwise index and colour name different classes, and nothing tells which is meant.
     */
    private static void checkColourTable(Path file, IndexColorModel icm, int[] labels, Palette palette) {
        boolean[] used = new boolean[icm.getMapSize()];
        for (int v : labels) {
            if (v < used.length) {
                used[v] = true;
            }
        }
        for (int i = 0; i < used.length; i++) {
            int colour = icm.getRGB(i) & 0xFFFFFF;
            boolean unlistedIgnore = i == LabelMap.IGNORE && palette.colour(i) < 0;
            if (!used[i] || colour == palette.colour(i) || unlistedIgnore) {
                continue;
            }
            int owner = palette.indexOf(colour);
            throw new DatasetException(file, "the mask is a palette PNG whose index " + i + " has colour RGB ("
                    + (colour >> 16) + ", " + (colour >> 8 & 0xFF) + ", " + (colour & 0xFF) + "), "
                    + (owner < 0 ? "which is not in " + palette.source() : "which " + palette.source()
                            + " gives to class " + owner)
                    + ": index and colour name different classes. Save the mask with the palette file's colours "
                    + "(index = class), or as an RGB or grayscale PNG, or remove the palette file if the indices are "
                    + "the classes");
        }
    }

    private static void mapColours(Path file, BufferedImage im, Palette palette, int[] labels) {
        int h = im.getHeight();
        int w = im.getWidth();
        int[] row = new int[w];
        int unknown = 0;
        int firstX = -1;
        int firstY = -1;
        int firstRgb = 0;
        for (int y = 0; y < h; y++) {
            readRgbRow(im, y, row);
            for (int x = 0; x < w; x++) {
                int cls = palette.indexOf(row[x]);
                if (cls < 0 && unknown++ == 0) {
                    firstX = x;
                    firstY = y;
                    firstRgb = row[x] & 0xFFFFFF;
                }
                labels[y * w + x] = cls;
            }
        }
        if (unknown > 0) {
            throw new DatasetException(file, unknown + " pixel(s) have colours that are not in " + palette.source()
                    + ", first at (x=" + firstX + ", y=" + firstY + "): RGB (" + (firstRgb >> 16) + ", "
                    + (firstRgb >> 8 & 0xFF) + ", " + (firstRgb & 0xFF) + "); add the colour to the palette file "
                    + "with its class index, or repaint those pixels (masks saved as JPEG or with anti-aliasing "
                    + "blend colours: save masks as PNG without smoothing)");
        }
    }

    /** Writes {@code mask} as an 8-bit palette PNG (atomically): readers see indices and colours. */
    public static void writeIndexPng(Path file, LabelMap mask, Palette palette) throws IOException {
        BufferedImage im = new BufferedImage(mask.width(), mask.height(), BufferedImage.TYPE_BYTE_INDEXED,
                palette.colorModel());
        WritableRaster r = im.getRaster();
        r.setSamples(0, 0, mask.width(), mask.height(), 0, mask.labels());
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(im, "png", out)) {
                throw new IOException("no PNG writer in this JVM");
            }
        });
    }

    private static byte[] readBytes(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new DatasetException(file, "the " + what + " file is missing; check the file name and extension "
                    + "in the list file, or remove the entry", e);
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read the " + what + " file (" + e + "); check its permissions",
                    e);
        }
    }

    /**
     * ImageIO.read, but a decoder warning that data is missing is an error: the JPEG reader fills
     * what a truncated file lacks with grey and only warns (libjpeg's "premature end of data
     * segment"), which would train on a half-grey image without a word.
     */
    private static BufferedImage decode(Path file, byte[] bytes, String what) {
        BufferedImage im;
        List<String> truncated = new ArrayList<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            im = null;
            if (readers.hasNext()) {
                ImageReader reader = readers.next();
                reader.addIIOReadWarningListener((source, warning) -> {
                    if (warning.toLowerCase(Locale.ROOT).contains("premature end")) {
                        truncated.add(warning);
                    }
                });
                try {
                    reader.setInput(in, true, true);
                    long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
                    if (pixels > MAX_PIXELS) {
                        throw new DatasetException(file, "the " + what + " declares " + reader.getWidth(0) + "x" + reader.getHeight(0)
                                + " pixels, more than the " + MAX_PIXELS + " LeanSeg decodes; a damaged header, or tile the image first");
                    }
                    im = reader.read(0, reader.getDefaultReadParam());
                } finally {
                    reader.dispose();
                }
            }
        } catch (DatasetException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(file, "the " + what + " is corrupt or truncated (" + e.getMessage()
                    + "); re-export it or remove it from the list (data.skip_bad=true skips such files)", e);
        }
        if (!truncated.isEmpty()) {
            throw new DatasetException(file, "the " + what + " is truncated (" + truncated.get(0) + "; " + bytes.length
                    + " bytes): part of it would decode as grey; copy the file again or re-export it, or remove it "
                    + "from the list (data.skip_bad=true skips such files)");
        }
        if (im == null) {
            throw new DatasetException(file, "the " + what + " is not in a format Java can decode (" + bytes.length
                    + " bytes; PNG, JPEG, BMP and GIF are supported); convert it to PNG or JPEG");
        }
        if (im.getWidth() == 0 || im.getHeight() == 0) {
            throw new DatasetException(file, "the " + what + " is empty (0 pixels); re-export it");
        }
        return im;
    }

    private static boolean isGray(ColorModel cm) {
        return cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
    }

    private static RgbImage toRgb(BufferedImage im) {
        int h = im.getHeight();
        int w = im.getWidth();
        int plane = h * w;
        float[] chw = new float[3 * plane];
        Raster r = im.getRaster();
        ColorModel cm = im.getColorModel();
        boolean gray = !(cm instanceof IndexColorModel) && r.getNumBands() <= 2 && isGray(cm);
        boolean rgbSamples = !(cm instanceof IndexColorModel) && r.getNumBands() >= 3 && cm.getColorSpace().isCS_sRGB();
        if (gray || rgbSamples) {
            // Read raw samples: getRGB would push gray through a colour-space conversion and
            // change its values (a linear-gray to sRGB gamma curve).
            int[] row = new int[w];
            for (int c = 0; c < 3; c++) {
                int band = gray ? 0 : c;
                float scale = MAX_8BIT / ((1 << cm.getComponentSize(band)) - 1);
                for (int y = 0; y < h; y++) {
                    r.getSamples(0, y, w, 1, band, row);
                    for (int x = 0; x < w; x++) {
                        chw[c * plane + y * w + x] = Math.round(row[x] * scale);
                    }
                }
            }
            return new RgbImage(h, w, chw);
        }
        int[] row = new int[w];
        for (int y = 0; y < h; y++) { // palette and other colour models: the model's own conversion
            readRgbRow(im, y, row);
            for (int x = 0; x < w; x++) {
                chw[y * w + x] = row[x] >> 16 & 0xFF;
                chw[plane + y * w + x] = row[x] >> 8 & 0xFF;
                chw[2 * plane + y * w + x] = row[x] & 0xFF;
            }
        }
        return new RgbImage(h, w, chw);
    }

    private static void readRgbRow(BufferedImage im, int y, int[] row) {
        im.getRGB(0, y, im.getWidth(), 1, row, 0, im.getWidth());
    }
}
