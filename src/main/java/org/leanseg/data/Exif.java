package org.leanseg.data;

/**
 * Reads the EXIF orientation tag (0x0112) from a JPEG's APP1 segment, so images shot in portrait
 * are used the way viewers and annotation tools (labelme, CVAT) show them; their masks are drawn
 * on that view. Anything malformed or absent reads as 1 (as stored): orientation is a hint, and a
 * broken EXIF block must not make an otherwise good image unusable. Layout per the EXIF 2.32 and
 * TIFF 6.0 specs: "Exif\0\0", a TIFF header (II/MM, 42, IFD0 offset), 12-byte IFD entries.
 *
 * <pre>{@code
 * int o = Exif.orientation(Files.readAllBytes(jpeg)); // 1..8
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=ImageFilesTest}.
 */
public final class Exif {
    private static final int TAG_ORIENTATION = 0x0112;
    private static final int TYPE_SHORT = 3;
    private static final int MARKER_SOS = 0xDA;
    private static final int MARKER_EOI = 0xD9;
    private static final int MARKER_APP1 = 0xE1;

    private Exif() {
    }

    /** The orientation 1..8 of the JPEG {@code bytes}; 1 when not a JPEG or no valid tag. */
    public static int orientation(byte[] bytes) {
        if (bytes.length < 4 || u8(bytes, 0) != 0xFF || u8(bytes, 1) != 0xD8) {
            return 1;
        }
        int p = 2;
        while (p + 4 <= bytes.length) {
            if (u8(bytes, p) != 0xFF) {
                return 1;
            }
            int marker = u8(bytes, p + 1);
            if (marker == 0xFF) { // fill byte before a marker
                p++;
                continue;
            }
            if (marker == MARKER_SOS || marker == MARKER_EOI) {
                return 1; // metadata segments all come before the scan
            }
            int end = p + 2 + u16(bytes, p + 2, false);
            if (end > bytes.length || end < p + 4) {
                return 1;
            }
            if (marker == MARKER_APP1 && isExifHeader(bytes, p + 4, end)) {
                int o = tiffOrientation(bytes, p + 10, end);
                if (o > 0) {
                    return o;
                }
            }
            p = end;
        }
        return 1;
    }

    private static boolean isExifHeader(byte[] b, int at, int end) {
        byte[] sig = {'E', 'x', 'i', 'f', 0, 0};
        if (at + sig.length + 8 > end) {
            return false;
        }
        for (int i = 0; i < sig.length; i++) {
            if (b[at + i] != sig[i]) {
                return false;
            }
        }
        return true;
    }

    /** Orientation from the TIFF block at {@code t}; 0 when absent or invalid. */
    private static int tiffOrientation(byte[] b, int t, int end) {
        boolean le;
        if (b[t] == 'I' && b[t + 1] == 'I') {
            le = true;
        } else if (b[t] == 'M' && b[t + 1] == 'M') {
            le = false;
        } else {
            return 0;
        }
        if (u16(b, t + 2, le) != 42) {
            return 0;
        }
        long ifd = t + u32(b, t + 4, le);
        if (ifd + 2 > end) {
            return 0;
        }
        int entries = u16(b, (int) ifd, le);
        for (int i = 0; i < entries; i++) {
            int e = (int) ifd + 2 + 12 * i;
            if (e + 12 > end) {
                return 0;
            }
            if (u16(b, e, le) == TAG_ORIENTATION && u16(b, e + 2, le) == TYPE_SHORT) {
                int v = u16(b, e + 8, le);
                return v >= 1 && v <= 8 ? v : 0;
            }
        }
        return 0;
    }

    private static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    private static int u16(byte[] b, int i, boolean le) {
        return le ? u8(b, i) | u8(b, i + 1) << 8 : u8(b, i) << 8 | u8(b, i + 1);
    }

    private static long u32(byte[] b, int i, boolean le) {
        long lo = u16(b, le ? i : i + 2, le);
        long hi = u16(b, le ? i + 2 : i, le);
        return hi << 16 | lo;
    }
}
