package org.leanseg.data;

/**
 * A decoded segmentation mask: one class index per pixel (0..numClasses-1, or 255 = ignore),
 * row-major [H, W].
 *
 * <pre>{@code
 * LabelMap m = ImageFiles.readMask(Path.of("SegmentationClass/2007_000032.png"), Palette.voc());
 * int cls = m.at(y, x);
 * }</pre>
 *
 * @param height rows
 * @param width columns
 * @param labels {@code height * width} class indices
 */
public record LabelMap(int height, int width, int[] labels) {
    /** The label every loss and metric skips. */
    public static final int IGNORE = 255;

    public LabelMap {
        if (labels.length != (long) height * width) {
            throw new IllegalArgumentException("label map " + height + "x" + width + " needs " + (long) height * width
                    + " values, got " + labels.length);
        }
    }

    public int at(int y, int x) {
        return labels[y * width + x];
    }
}
