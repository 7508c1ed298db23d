package org.leanseg.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.leanseg.data.SyntheticShapes.Sample;
import org.leanseg.data.SyntheticShapes.Split;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.TensorSpec;

class SyntheticShapesTest {
    private final SyntheticShapes ds = new SyntheticShapes(7, 128, 128);

    @Test
    void sameSeedSplitIndexGivesIdenticalSamples() {
        Sample a = ds.sample(Split.TRAIN, 5);
        Sample b = new SyntheticShapes(7, 128, 128).sample(Split.TRAIN, 5);
        assertArrayEquals(a.image().data(), b.image().data());
        assertArrayEquals(a.label().data(), b.label().data());
        assertEquals(TensorSpec.f32(3, 128, 128), a.image().spec());
        assertEquals(TensorSpec.i32(128, 128), a.label().spec());
        assertFalse(Arrays.equals(a.image().data(), ds.sample(Split.TRAIN, 6).image().data()), "index matters");
        assertFalse(Arrays.equals(a.image().data(), ds.sample(Split.VAL, 5).image().data()), "split matters");
        assertFalse(Arrays.equals(a.image().data(), new SyntheticShapes(8, 128, 128).sample(Split.TRAIN, 5).image().data()),
                "seed matters");
    }

    @Test
    void renderingInParallelGivesTheSameSamples() {
        ConcurrentHashMap<Integer, float[]> parallel = new ConcurrentHashMap<>();
        IntStream.range(0, 32).parallel().forEach(i -> parallel.put(i, ds.sample(Split.TRAIN, i).label().data()));
        for (int i = 0; i < 32; i++) {
            assertArrayEquals(ds.sample(Split.TRAIN, i).label().data(), parallel.get(i), "sample " + i);
        }
    }

    @Test
    void batchStacksSamples() {
        int[] indices = {3, 0, 9};
        Sample batch = ds.batch(Split.VAL, indices);
        assertEquals(TensorSpec.f32(3, 3, 128, 128), batch.image().spec());
        assertEquals(DType.I32, batch.label().dtype());
        assertEquals(List.of(3, 128, 128), Arrays.stream(batch.label().shape().dims()).boxed().toList());
        int pixels = 128 * 128;
        for (int b = 0; b < indices.length; b++) {
            Sample s = ds.sample(Split.VAL, indices[b]);
            assertArrayEquals(s.image().data(), Arrays.copyOfRange(batch.image().data(), b * 3 * pixels, (b + 1) * 3 * pixels));
            assertArrayEquals(s.label().data(), Arrays.copyOfRange(batch.label().data(), b * pixels, (b + 1) * pixels));
        }
    }

    @Test
    void labelsCoverEveryClassWithThinIgnoreBorders() {
        long[] counts = new long[256];
        double sum = 0;
        double sumSq = 0;
        long n = 0;
        for (int i = 0; i < 100; i++) {
            Sample s = ds.sample(Split.TRAIN, i);
            float[] label = s.label().data();
            boolean hasIgnore = false;
            for (float v : label) {
                int c = (int) v;
                assertEquals(v, c, "integral label");
                assertTrue(c >= 0 && c < SyntheticShapes.NUM_CLASSES || c == SyntheticShapes.IGNORE, "label " + c);
                counts[c]++;
                hasIgnore |= c == SyntheticShapes.IGNORE;
            }
            assertTrue(hasIgnore, "sample " + i + " has an ignore border");
            assertThinIgnore(label, 128, 128, i);
            for (float v : s.image().data()) {
                sum += v;
                sumSq += v * v;
                n++;
            }
        }
        for (int c = 0; c < SyntheticShapes.NUM_CLASSES; c++) {
            assertTrue(counts[c] > 1000, SyntheticShapes.classNames().get(c) + " appears (" + counts[c] + " px)");
        }
        double ignoreShare = counts[255] / (100.0 * 128 * 128);
        assertTrue(ignoreShare > 0.01 && ignoreShare < 0.12, "ignore share " + ignoreShare);
        double mean = sum / n;
        double std = Math.sqrt(sumSq / n - mean * mean);
        assertTrue(Math.abs(mean) < 0.1 && std > 0.85 && std < 1.15, "normalised pixels: mean " + mean + ", std " + std);
    }

    /** Every ignore pixel touches (4-neighbourhood or itself is at) a change of class: bands are thin. */
    private static void assertThinIgnore(float[] label, int h, int w, int sample) {
        int thick = 0;
        int total = 0;
        for (int y = 1; y < h - 1; y++) {
            for (int x = 1; x < w - 1; x++) {
                if (label[y * w + x] == 255) {
                    total++;
                    boolean nearNonIgnore = label[y * w + x - 1] != 255 || label[y * w + x + 1] != 255
                            || label[(y - 1) * w + x] != 255 || label[(y + 1) * w + x] != 255;
                    thick += nearNonIgnore ? 0 : 1;
                }
            }
        }
        assertTrue(thick <= total / 20 + 2, "sample " + sample + ": " + thick + " of " + total + " ignore pixels are inside thick bands");
    }

    @Test
    void nonSquareAndSmallSizesWork() {
        for (int[] hw : new int[][] {{64, 96}, {97, 33}, {8, 8}}) {
            SyntheticShapes small = new SyntheticShapes(1, hw[0], hw[1]);
            for (int i = 0; i < 20; i++) {
                Sample s = small.sample(Split.TRAIN, i);
                assertEquals(TensorSpec.i32(hw[0], hw[1]), s.label().spec());
                for (float v : s.image().data()) {
                    assertTrue(Float.isFinite(v));
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ds.sample(Split.TRAIN, -1));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticShapes(0, 4, 64));
    }

    @Test
    void classNamesMatchTheConstants() {
        assertEquals(SyntheticShapes.NUM_CLASSES, SyntheticShapes.classNames().size());
        assertEquals("ring", SyntheticShapes.classNames().get(SyntheticShapes.RING));
    }

    @Test
    void writesPreviewPng() throws IOException {
        Path out = Path.of(System.getProperty("java.io.tmpdir"), "leanseg-synthetic-preview.png");
        ImageIO.write(preview(ds, 16), "png", out.toFile());
        assertTrue(Files.size(out) > 0);
    }

    /** Rows of image | colourised label (ignore = white) for the first {@code n} train samples. */
    static BufferedImage preview(SyntheticShapes ds, int n) {
        int h = ds.height();
        int w = ds.width();
        int[] palette = {0x000000, 0xE6194B, 0x3CB44B, 0xFFE119, 0x4363D8, 0xF58231};
        BufferedImage img = new BufferedImage(4 * (w + 4), (n + 1) / 2 * (h + 4), BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < n; i++) {
            Sample s = ds.sample(Split.TRAIN, i);
            int ox = (i % 2) * 2 * (w + 4);
            int oy = (i / 2) * (h + 4);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = 0;
                    for (int c = 0; c < 3; c++) {
                        float v = s.image().data()[c * h * w + y * w + x] * SyntheticShapes.PIXEL_STD + SyntheticShapes.PIXEL_MEAN;
                        rgb = rgb << 8 | Math.max(0, Math.min(255, Math.round(v * 255)));
                    }
                    img.setRGB(ox + x, oy + y, rgb);
                    int label = (int) s.label().data()[y * w + x];
                    img.setRGB(ox + w + 2 + x, oy + y, label == 255 ? 0xFFFFFF : palette[label]);
                }
            }
        }
        return img;
    }
}
