package org.leanseg.data;

import java.util.Arrays;
import java.util.Map;

/**
 * {@code data.label_map}: raw mask values to the class indices training uses, applied to every
 * mask as it is read; a value the table does not name becomes 255 (ignore). Cityscapes' masks, for
 * example, hold its 34 {@code labelIds} while models train on 19 {@code trainIds}
 * ({@code data.label_map: cityscapes}).
 *
 * <pre>{@code
 * LabelRemap r = LabelRemap.of(Map.of(7, 0, 8, 1, 26, 13));
 * LabelMap train = r.apply(ImageFiles.readMask(Path.of("aachen_000000_000019_gtFine_labelIds.png"), null));
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=FileDatasetTest}.
 */
public final class LabelRemap {
    /** Raw values an 8- or 16-bit mask can hold. */
    static final int RAW_VALUES = 1 << 16;

    private final int[] table;
    private final int entries;

    private LabelRemap(int[] table, int entries) {
        this.table = table;
        this.entries = entries;
    }

    /** The table {@code raw value -> class index} (0..254, or 255); every other value maps to 255. */
    public static LabelRemap of(Map<Integer, Integer> map) {
        int[] table = new int[RAW_VALUES];
        Arrays.fill(table, LabelMap.IGNORE);
        map.forEach((raw, id) -> {
            if (raw < 0 || raw >= RAW_VALUES || id < 0 || id > LabelMap.IGNORE) {
                throw new IllegalArgumentException("label map entry " + raw + " -> " + id + ": raw values are 0.."
                        + (RAW_VALUES - 1) + " and class indices 0..255");
            }
            table[raw] = id;
        });
        return new LabelRemap(table, map.size());
    }

    /** {@code raw} with every value replaced by its class index (255 where the table has none). */
    public LabelMap apply(LabelMap raw) {
        int[] in = raw.labels();
        int[] out = new int[in.length];
        for (int i = 0; i < in.length; i++) {
            int v = in[i];
            out[i] = v >= 0 && v < RAW_VALUES ? table[v] : LabelMap.IGNORE;
        }
        return new LabelMap(raw.height(), raw.width(), out);
    }

    /** The class index of raw value {@code raw}. */
    public int map(int raw) {
        return raw >= 0 && raw < RAW_VALUES ? table[raw] : LabelMap.IGNORE;
    }

    @Override
    public String toString() {
        return "data.label_map (" + entries + " raw values mapped, the rest to 255)";
    }
}
