package org.leanseg.data.labelme;

/**
 * Paints labelme shapes into an index mask, later shapes over earlier ones (file order). Pixel
 * (x, y) is the point (x, y), PIL's convention, which labelme draws with. A region — polygon,
 * rectangle, circle (centre and a point on the rim), point (a disc of {@code pointRadius}) — paints
 * the pixels inside it or within half a pixel of its outline, as labelme's fill plus its one-pixel
 * outline does. A line or linestrip paints the pixels within {@code lineWidth / 2} of it (round
 * ends and joins, so a strip has no gaps), at least half a pixel.
 *
 * <pre>{@code
 * int[] mask = new int[h * w];
 * new ShapeRaster(10, 5).paint(mask, h, w, shape, classIndex);
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=LabelmeTest}.
 *
 * @param lineWidth width of lines and linestrips in pixels (labelme's default 10)
 * @param pointRadius radius of points in pixels (labelme's default 5)
 */
public record ShapeRaster(double lineWidth, double pointRadius) {
    private static final double OUTLINE = 0.5;

    /** labelme's defaults: lines 10 px wide, points of radius 5. */
    public static final ShapeRaster LABELME = new ShapeRaster(10, 5);

    public ShapeRaster {
        if (!(lineWidth > 0) || !(pointRadius >= 0)) {
            throw new IllegalArgumentException("line width must be > 0 and point radius >= 0, got " + lineWidth + ", "
                    + pointRadius);
        }
    }

    /** Sets {@code mask[y * w + x] = value} for every pixel the shape covers. */
    public void paint(int[] mask, int h, int w, LabelmeFile.Shape shape, int value) {
        double[][] p = shape.points();
        switch (shape.type()) {
            case POLYGON -> polygon(mask, h, w, p, value);
            case RECTANGLE -> fill(mask, h, w, Math.min(p[0][0], p[1][0]) - OUTLINE, Math.min(p[0][1], p[1][1]) - OUTLINE,
                    Math.max(p[0][0], p[1][0]) + OUTLINE, Math.max(p[0][1], p[1][1]) + OUTLINE, value,
                    (x, y) -> true);
            case CIRCLE -> disc(mask, h, w, p[0], Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]) + OUTLINE, value);
            case POINT -> disc(mask, h, w, p[0], pointRadius + OUTLINE, value);
            case LINE, LINESTRIP -> strip(mask, h, w, p, Math.max(lineWidth / 2, OUTLINE), value);
            default -> throw new IllegalStateException("unhandled shape type " + shape.type());
        }
    }

    private interface Inside {
        boolean test(double x, double y);
    }

    /** Paints the pixels of the bounding box [x0, x1] x [y0, y1] (clipped) that pass {@code inside}. */
    private static void fill(int[] mask, int h, int w, double x0, double y0, double x1, double y1, int value,
            Inside inside) {
        int xa = Math.max(0, (int) Math.ceil(x0));
        int xb = Math.min(w - 1, (int) Math.floor(x1));
        int ya = Math.max(0, (int) Math.ceil(y0));
        int yb = Math.min(h - 1, (int) Math.floor(y1));
        for (int y = ya; y <= yb; y++) {
            for (int x = xa; x <= xb; x++) {
                if (inside.test(x, y)) {
                    mask[y * w + x] = value;
                }
            }
        }
    }

    private static void disc(int[] mask, int h, int w, double[] c, double r, int value) {
        fill(mask, h, w, c[0] - r, c[1] - r, c[0] + r, c[1] + r, value,
                (x, y) -> (x - c[0]) * (x - c[0]) + (y - c[1]) * (y - c[1]) <= r * r);
    }

    private static void strip(int[] mask, int h, int w, double[][] p, double r, int value) {
        for (int i = 0; i + 1 < p.length; i++) {
            double[] a = p[i];
            double[] b = p[i + 1];
            fill(mask, h, w, Math.min(a[0], b[0]) - r, Math.min(a[1], b[1]) - r, Math.max(a[0], b[0]) + r,
                    Math.max(a[1], b[1]) + r, value, (x, y) -> segmentDistance(x, y, a, b) <= r);
        }
    }

    private static void polygon(int[] mask, int h, int w, double[][] p, int value) {
        double x0 = Double.MAX_VALUE;
        double y0 = Double.MAX_VALUE;
        double x1 = -Double.MAX_VALUE;
        double y1 = -Double.MAX_VALUE;
        for (double[] q : p) {
            x0 = Math.min(x0, q[0]);
            y0 = Math.min(y0, q[1]);
            x1 = Math.max(x1, q[0]);
            y1 = Math.max(y1, q[1]);
        }
        fill(mask, h, w, x0 - OUTLINE, y0 - OUTLINE, x1 + OUTLINE, y1 + OUTLINE, value,
                (x, y) -> insidePolygon(x, y, p) || nearOutline(x, y, p));
    }

    /** Even-odd rule (PIL's polygon fill), by counting edge crossings of a ray to +x. */
    private static boolean insidePolygon(double x, double y, double[][] p) {
        boolean inside = false;
        for (int i = 0, j = p.length - 1; i < p.length; j = i++) {
            double xi = p[i][0];
            double yi = p[i][1];
            double xj = p[j][0];
            double yj = p[j][1];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) {
                inside = !inside;
            }
        }
        return inside;
    }

    private static boolean nearOutline(double x, double y, double[][] p) {
        for (int i = 0, j = p.length - 1; i < p.length; j = i++) {
            if (segmentDistance(x, y, p[j], p[i]) <= OUTLINE) {
                return true;
            }
        }
        return false;
    }

    private static double segmentDistance(double x, double y, double[] a, double[] b) {
        double dx = b[0] - a[0];
        double dy = b[1] - a[1];
        double len2 = dx * dx + dy * dy;
        double t = len2 == 0 ? 0 : Math.max(0, Math.min(1, ((x - a[0]) * dx + (y - a[1]) * dy) / len2));
        return Math.hypot(x - a[0] - t * dx, y - a[1] - t * dy);
    }
}
