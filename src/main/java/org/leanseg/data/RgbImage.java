package org.leanseg.data;

/**
 * A decoded RGB image before normalisation: channel-planar floats in [0, 255], as read from the
 * file ([3, H, W], R then G then B). The augmentation works on these and normalises last.
 *
 * <pre>{@code
 * RgbImage im = ImageFiles.readImage(Path.of("JPEGImages/2007_000032.jpg"));
 * float red = im.at(0, y, x);
 * }</pre>
 *
 * @param height rows
 * @param width columns
 * @param chw {@code 3 * height * width} values, plane by plane
 */
public record RgbImage(int height, int width, float[] chw) {
    public RgbImage {
        if (chw.length != 3L * height * width) {
            throw new IllegalArgumentException("RGB image " + height + "x" + width + " needs " + 3L * height * width
                    + " values, got " + chw.length);
        }
    }

    /** Channel {@code c} (0 = R) at row {@code y}, column {@code x}. */
    public float at(int c, int y, int x) {
        return chw[(c * height + y) * width + x];
    }

    /**
     * This image as seen after the EXIF orientation tag's transform (1 = as stored, 2..8 = the
     * flips and rotations of the TIFF/EXIF spec), i.e. the way viewers and annotation tools show
     * it. Orientations 5..8 swap height and width.
     */
    public RgbImage oriented(int orientation) {
        if (orientation <= 1 || orientation > 8) {
            return this;
        }
        boolean swap = orientation >= 5;
        int outH = swap ? width : height;
        int outW = swap ? height : width;
        float[] out = new float[chw.length];
        int plane = height * width;
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                int src = sourceIndex(orientation, x, y);
                int dst = y * outW + x;
                for (int c = 0; c < 3; c++) {
                    out[c * plane + dst] = chw[c * plane + src];
                }
            }
        }
        return new RgbImage(outH, outW, out);
    }

    /** Stored pixel shown at output (x, y); see the EXIF 2.32 spec, tag 0x0112. */
    private int sourceIndex(int orientation, int x, int y) {
        int sx;
        int sy;
        switch (orientation) {
            case 2 -> { sx = width - 1 - x; sy = y; }
            case 3 -> { sx = width - 1 - x; sy = height - 1 - y; }
            case 4 -> { sx = x; sy = height - 1 - y; }
            case 5 -> { sx = y; sy = x; }
            case 6 -> { sx = y; sy = height - 1 - x; }
            case 7 -> { sx = width - 1 - y; sy = height - 1 - x; }
            case 8 -> { sx = width - 1 - y; sy = x; }
            default -> throw new IllegalArgumentException("EXIF orientation " + orientation);
        }
        return sy * width + sx;
    }
}
