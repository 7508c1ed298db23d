package org.leanseg.data;

import java.util.SplittableRandom;

/**
 * One shape of a {@link SyntheticShapes} scene: its class, geometry as a signed distance
 * function in pixels (negative inside; exact or close to it, so |d| ≤ 0.5 is a 1-pixel band
 * along the boundary), a bounding box, and a textured colour. Geometry follows Inigo Quilez's
 * 2D distance functions (iquilezles.org/articles/distfunctions2d).
 */
final class SceneShape {
    final int classId;
    final double cx;
    final double cy;
    private final double cos;
    private final double sin;
    /** Shape-specific sizes in pixels (see {@link #distance}). */
    private final double a;
    private final double b;
    private final double[] tri; // triangle vertices x0, y0, x1, y1, x2, y2 relative to the centre
    final int x0;
    final int y0;
    final int x1;
    final int y1;
    final Texture texture;

    SceneShape(int classId, double cx, double cy, double radius, SplittableRandom rnd, Texture texture, int height,
            int width) {
        this.classId = classId;
        this.cx = cx;
        this.cy = cy;
        double angle = rnd.nextDouble(2 * Math.PI);
        this.cos = Math.cos(angle);
        this.sin = Math.sin(angle);
        this.texture = texture;
        double[] vertices = null;
        switch (classId) {
            case SyntheticShapes.DISC -> {
                a = radius;
                b = 0;
            }
            case SyntheticShapes.RECTANGLE -> { // half extents
                a = radius * rnd.nextDouble(0.45, 0.95);
                b = radius * rnd.nextDouble(0.3, 0.75);
            }
            case SyntheticShapes.TRIANGLE -> {
                a = 0;
                b = 0;
                vertices = new double[6];
                for (int v = 0; v < 3; v++) {
                    double t = angle + v * 2 * Math.PI / 3 + rnd.nextDouble(-0.35, 0.35);
                    double r = radius * rnd.nextDouble(0.8, 1.0);
                    vertices[2 * v] = r * Math.cos(t);
                    vertices[2 * v + 1] = r * Math.sin(t);
                }
            }
            case SyntheticShapes.RING -> { // centre-line radius and half thickness
                double inner = radius * rnd.nextDouble(0.4, 0.65);
                a = (radius + inner) / 2;
                b = (radius - inner) / 2;
            }
            case SyntheticShapes.CROSS -> { // arm half length and half width
                a = radius * 0.95;
                b = radius * rnd.nextDouble(0.17, 0.3);
            }
            default -> throw new IllegalArgumentException("not a shape class: " + classId);
        }
        this.tri = vertices;
        int reach = (int) Math.ceil(radius) + 2;
        x0 = Math.max(0, (int) Math.floor(cx) - reach);
        y0 = Math.max(0, (int) Math.floor(cy) - reach);
        x1 = Math.min(width - 1, (int) Math.ceil(cx) + reach);
        y1 = Math.min(height - 1, (int) Math.ceil(cy) + reach);
    }

    boolean inBox(int x, int y) {
        return x >= x0 && x <= x1 && y >= y0 && y <= y1;
    }

    /** Signed distance in pixels from the pixel centre (px, py) to the boundary; negative inside. */
    double distance(double px, double py) {
        double dx = px - cx;
        double dy = py - cy;
        if (classId == SyntheticShapes.TRIANGLE) {
            return triangle(dx, dy, tri);
        }
        double u = cos * dx + sin * dy; // rotate into the shape's frame
        double v = -sin * dx + cos * dy;
        return switch (classId) {
            case SyntheticShapes.DISC -> Math.sqrt(u * u + v * v) - a;
            case SyntheticShapes.RECTANGLE -> box(u, v, a, b);
            case SyntheticShapes.RING -> Math.abs(Math.sqrt(u * u + v * v) - a) - b;
            default -> Math.min(box(u, v, a, b), box(u, v, b, a)); // CROSS: union of two bars
        };
    }

    private static double box(double u, double v, double hx, double hy) {
        double qx = Math.abs(u) - hx;
        double qy = Math.abs(v) - hy;
        double ox = Math.max(qx, 0);
        double oy = Math.max(qy, 0);
        return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
    }

    private static double triangle(double px, double py, double[] t) {
        double e0x = t[2] - t[0], e0y = t[3] - t[1];
        double e1x = t[4] - t[2], e1y = t[5] - t[3];
        double e2x = t[0] - t[4], e2y = t[1] - t[5];
        double v0x = px - t[0], v0y = py - t[1];
        double v1x = px - t[2], v1y = py - t[3];
        double v2x = px - t[4], v2y = py - t[5];
        double s = Math.signum(e0x * e2y - e0y * e2x);
        double d = Math.min(Math.min(edgeDist2(v0x, v0y, e0x, e0y), edgeDist2(v1x, v1y, e1x, e1y)),
                edgeDist2(v2x, v2y, e2x, e2y));
        boolean inside = s * (v0x * e0y - v0y * e0x) > 0 && s * (v1x * e1y - v1y * e1x) > 0
                && s * (v2x * e2y - v2y * e2x) > 0;
        return inside ? -Math.sqrt(d) : Math.sqrt(d);
    }

    /** Squared distance from v (relative to the edge start) to the edge segment e. */
    private static double edgeDist2(double vx, double vy, double ex, double ey) {
        double h = Math.max(0, Math.min(1, (vx * ex + vy * ey) / (ex * ex + ey * ey)));
        double qx = vx - ex * h;
        double qy = vy - ey * h;
        return qx * qx + qy * qy;
    }

    /**
     * A surface colour: a base RGB in [0, 1] and a second one, mixed by a pattern: flat; stripes
     * along (dirX, dirY) with a period and phase; a linear gradient reaching rgb2 after one period
     * (phase = value at the origin); or per-pixel hash noise. Used for shapes and the background.
     */
    record Texture(float[] rgb, float[] rgb2, int kind, double dirX, double dirY, double period, double phase,
            int noiseSeed) {
        static final int FLAT = 0;
        static final int STRIPES = 1;
        static final int NOISE = 2;
        static final int GRADIENT = 3;

        /** Writes the RGB colour at pixel (x, y) into {@code out[0..2]}. */
        void at(int x, int y, float[] out) {
            if (kind == NOISE) {
                for (int c = 0; c < 3; c++) {
                    out[c] = rgb[c] + (rgb2[c] - rgb[c]) * hash01(x, y, noiseSeed + c);
                }
                return;
            }
            float t = switch (kind) {
                case STRIPES -> (float) (0.5 + 0.5 * Math.sin(2 * Math.PI * ((x * dirX + y * dirY) / period + phase)));
                case GRADIENT -> (float) Math.max(0, Math.min(1, (x * dirX + y * dirY) / period + phase));
                default -> 0;
            };
            for (int c = 0; c < 3; c++) {
                out[c] = rgb[c] + (rgb2[c] - rgb[c]) * t;
            }
        }
    }

    /** A deterministic value in [0, 1) for (x, y, seed): the murmur3 finaliser of their mix. */
    static float hash01(int x, int y, int seed) {
        int h = x * 0x9E3779B1 + y * 0x85EBCA77 + seed * 0xC2B2AE3D;
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return (h >>> 8) * 0x1p-24f;
    }
}
