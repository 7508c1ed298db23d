package org.leanseg.data;

import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Colours of class indices: used to read RGB colour masks (each colour maps back to its index)
 * and to write palette PNGs. {@link #voc()} is Pascal VOC's bit-interleaved palette (index 255,
 * the ignore border, is (224, 224, 192)); {@link #read} loads a dataset's {@code palette.txt}.
 *
 * <p>palette.txt: one colour per line, {@code R G B} for the next class index (starting at 0) or
 * {@code I R G B} for index I (e.g. {@code 255 224 224 192} for the ignore colour); blank lines
 * and {@code #} comments are skipped; commas count as spaces.
 *
 * <pre>{@code
 * Palette p = Palette.read(root.resolve("palette.txt"));
 * int cls = p.indexOf(0x800000); // -1 when the colour is not in the palette
 * }</pre>
 */
public final class Palette {
    private static final int SIZE = 256;
    private static final Palette VOC = new Palette(vocColours(), "the Pascal VOC palette");

    /** rgb[i] = 0xRRGGBB of index i, or -1 when index i has no colour. */
    private final int[] rgb;
    private final Map<Integer, Integer> index = new HashMap<>();
    private final String source;

    private Palette(int[] rgb, String source) {
        this.rgb = rgb;
        this.source = source;
        for (int i = 0; i < SIZE; i++) {
            if (rgb[i] >= 0) {
                index.putIfAbsent(rgb[i], i);
            }
        }
    }

    /** Pascal VOC's palette: every one of the 256 indices has a distinct colour. */
    public static Palette voc() {
        return VOC;
    }

    private static int[] vocColours() {
        int[] out = new int[SIZE];
        for (int i = 0; i < SIZE; i++) {
            int r = 0;
            int g = 0;
            int b = 0;
            int c = i;
            for (int bit = 7; bit >= 0; bit--) {
                r |= (c & 1) << bit;
                g |= ((c >> 1) & 1) << bit;
                b |= ((c >> 2) & 1) << bit;
                c >>= 3;
            }
            out[i] = (r << 16) | (g << 8) | b;
        }
        return out;
    }

    /** Reads a palette.txt (format in the class comment); errors name the file and line. */
    public static Palette read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read the palette file (" + e.getMessage() + ")", e);
        }
        int[] rgb = new int[SIZE];
        Arrays.fill(rgb, -1);
        int next = 0;
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).replaceAll("#.*", "").replace(',', ' ').trim();
            if (line.isEmpty()) {
                continue;
            }
            int[] v = parseInts(file, n + 1, line.split("\\s+"));
            int i = v.length == 4 ? v[0] : next;
            int base = v.length - 3;
            if (i < 0 || i >= SIZE || v[base] > 255 || v[base + 1] > 255 || v[base + 2] > 255) {
                throw bad(file, n + 1, "index must be 0..255 and each of R G B 0..255");
            }
            rgb[i] = (v[base] << 16) | (v[base + 1] << 8) | v[base + 2];
            next = i + 1;
        }
        if (next == 0) {
            throw new DatasetException(file, "the palette file has no colours; write one 'R G B' line per class");
        }
        return new Palette(rgb, file.toString());
    }

    private static int[] parseInts(Path file, int lineNo, String[] parts) {
        if (parts.length != 3 && parts.length != 4) {
            throw bad(file, lineNo, "expected 'R G B' or 'INDEX R G B', got " + parts.length + " values");
        }
        int[] v = new int[parts.length];
        for (int k = 0; k < parts.length; k++) {
            try {
                v[k] = Integer.parseInt(parts[k]);
            } catch (NumberFormatException e) {
                throw bad(file, lineNo, "'" + parts[k] + "' is not an integer");
            }
            if (v[k] < 0) {
                throw bad(file, lineNo, "negative value " + v[k]);
            }
        }
        return v;
    }

    private static DatasetException bad(Path file, int lineNo, String what) {
        return new DatasetException(file, "line " + lineNo + ": " + what
                + " (format: one 'R G B' per class index, or 'INDEX R G B', e.g. '255 224 224 192')");
    }

    /** Where the colours came from ("the Pascal VOC palette" or the palette file), for messages. */
    public String source() {
        return source;
    }

    /** The index whose colour is {@code rgb} (0xRRGGBB), or -1 when no index has it. */
    public int indexOf(int rgb) {
        Integer i = index.get(rgb & 0xFFFFFF);
        return i == null ? -1 : i;
    }

    /** 0xRRGGBB of {@code index}, or -1 when it has no colour. */
    public int colour(int index) {
        return rgb[index];
    }

    /** An 8-bit colour model for writing palette PNGs; indices without a colour are black. */
    public IndexColorModel colorModel() {
        byte[] r = new byte[SIZE];
        byte[] g = new byte[SIZE];
        byte[] b = new byte[SIZE];
        for (int i = 0; i < SIZE; i++) {
            int c = Math.max(rgb[i], 0);
            r[i] = (byte) (c >> 16);
            g[i] = (byte) (c >> 8);
            b[i] = (byte) c;
        }
        return new IndexColorModel(8, SIZE, r, g, b);
    }
}
