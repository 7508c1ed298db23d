package org.leanseg.data;

import java.util.List;
import java.util.SplittableRandom;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * A procedurally generated segmentation dataset for tests, demos and CPU training runs: images of
 * 1–4 overlapping shapes (disc, rectangle, triangle, ring, cross) on gradient or textured
 * backgrounds, with per-pixel labels. Colours are drawn from the same range for every class, so
 * the network has to learn geometry, not colour; later shapes occlude earlier ones; every visible
 * shape boundary carries a 1-pixel band of the ignore label 255, as VOC's object borders do.
 *
 * <p>Sample {@code i} of a split is a pure function of (seed, split, i): identical on any machine
 * and thread count, with no shared state, so loaders may render samples in parallel.
 *
 * <pre>{@code
 * SyntheticShapes ds = new SyntheticShapes(0, 128, 128);
 * SyntheticShapes.Sample s = ds.sample(SyntheticShapes.Split.TRAIN, 42);  // f32[3,128,128], i32[128,128]
 * SyntheticShapes.Sample b = ds.batch(SyntheticShapes.Split.VAL, new int[] {0, 1, 2, 3}); // [4,3,H,W], [4,H,W]
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=SyntheticShapesTest} (also writes a preview PNG to the temp dir).
 */
public final class SyntheticShapes {
    public static final int BACKGROUND = 0;
    public static final int DISC = 1;
    public static final int RECTANGLE = 2;
    public static final int TRIANGLE = 3;
    public static final int RING = 4;
    public static final int CROSS = 5;
    public static final int NUM_CLASSES = 6;
    public static final int IGNORE = 255;

    private static final List<String> CLASS_NAMES = List.of("background", "disc", "rectangle", "triangle", "ring", "cross");
    /**
     * Mean and standard deviation of raw [0, 1] pixel values, measured over 1000 train samples
     * (per channel 0.403–0.415 and 0.248–0.255), used to normalise to about zero mean, unit std.
     */
    static final float PIXEL_MEAN = 0.41f;
    static final float PIXEL_STD = 0.25f;
    private static final float NOISE_AMPLITUDE = 0.04f;
    private static final int MAX_SHAPES = 3;

    /** Dataset splits; each is an independent infinite stream of samples. */
    public enum Split {
        TRAIN, VAL
    }

    /** An image f32 [3,H,W] (or [B,3,H,W]) and its label i32 [H,W] (or [B,H,W]). */
    public record Sample(Tensor image, Tensor label) {
    }

    private final long seed;
    private final int height;
    private final int width;
    private final int maxShapes;
    private final double textured;

    /** A dataset of {@code height × width} images whose content is fixed by {@code seed} (default difficulty). */
    public SyntheticShapes(long seed, int height, int width) {
        this(seed, height, width, MAX_SHAPES, 0.4);
    }

    /**
     * As above, with 1..{@code maxShapes} shapes per image (overlapping when more than one) and
     * the fraction {@code textured} of shapes striped or noisy rather than flat.
     */
    public SyntheticShapes(long seed, int height, int width, int maxShapes, double textured) {
        if (height < 8 || width < 8) {
            throw new IllegalArgumentException("synthetic images must be at least 8x8, got " + height + "x" + width);
        }
        if (maxShapes < 1 || !(textured >= 0 && textured <= 1)) {
            throw new IllegalArgumentException("synthetic max_shapes must be >= 1 and textured in [0, 1]");
        }
        this.seed = seed;
        this.height = height;
        this.width = width;
        this.maxShapes = maxShapes;
        this.textured = textured;
    }

    /** Class names by label value: background, disc, rectangle, triangle, ring, cross. */
    public static List<String> classNames() {
        return CLASS_NAMES;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    /** Sample {@code index} (any int ≥ 0) of {@code split}. */
    public Sample sample(Split split, int index) {
        float[] image = new float[3 * height * width];
        float[] label = new float[height * width];
        render(split, index, image, 0, label, 0);
        return new Sample(new Tensor(TensorSpec.f32(3, height, width), image),
                new Tensor(TensorSpec.i32(height, width), label));
    }

    /** Samples {@code indices} stacked into images [B,3,H,W] and labels [B,H,W]. */
    public Sample batch(Split split, int[] indices) {
        int pixels = height * width;
        float[] images = new float[indices.length * 3 * pixels];
        float[] labels = new float[indices.length * pixels];
        for (int b = 0; b < indices.length; b++) {
            render(split, indices[b], images, b * 3 * pixels, labels, b * pixels);
        }
        return new Sample(new Tensor(TensorSpec.f32(indices.length, 3, height, width), images),
                new Tensor(new TensorSpec(Shape.of(indices.length, height, width), DType.I32), labels));
    }

    /**
     * Renders sample {@code index} of {@code split} into {@code image[imageOffset..]} (3 planes
     * of H×W, normalised) and {@code label[labelOffset..]} (H×W class values or 255).
     */
    public void render(Split split, int index, float[] image, int imageOffset, float[] label, int labelOffset) {
        if (index < 0) {
            throw new IllegalArgumentException("sample index " + index + " < 0");
        }
        SplittableRandom rnd = new SplittableRandom(mix(mix(mix(seed) ^ (split.ordinal() + 1)) + index));
        SceneShape.Texture background = background(rnd, height, width);
        float[] bgMean = {
            (background.rgb()[0] + background.rgb2()[0]) / 2,
            (background.rgb()[1] + background.rgb2()[1]) / 2,
            (background.rgb()[2] + background.rgb2()[2]) / 2};
        SceneShape[] shapes = new SceneShape[1 + rnd.nextInt(maxShapes)];
        double minSide = Math.min(height, width);
        for (int k = 0; k < shapes.length; k++) {
            int classId = 1 + rnd.nextInt(NUM_CLASSES - 1);
            double radius = minSide * rnd.nextDouble(0.2, 0.34);
            double cx = width * rnd.nextDouble(0.1, 0.9);
            double cy = height * rnd.nextDouble(0.1, 0.9);
            shapes[k] = new SceneShape(classId, cx, cy, radius, rnd, shapeTexture(rnd, bgMean, textured), height, width);
        }
        int noiseSeed = rnd.nextInt();
        int plane = height * width;
        double[] dist = new double[shapes.length];
        float[] rgb = new float[3];
        float[] top = new float[3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                background.at(x, y, rgb);
                for (int k = 0; k < shapes.length; k++) {
                    dist[k] = shapes[k].inBox(x, y) ? shapes[k].distance(x + 0.5, y + 0.5) : Double.POSITIVE_INFINITY;
                    float alpha = (float) Math.max(0, Math.min(1, 0.5 - dist[k])); // anti-aliased edge
                    if (alpha > 0) {
                        shapes[k].texture.at(x, y, top);
                        for (int c = 0; c < 3; c++) {
                            rgb[c] += alpha * (top[c] - rgb[c]);
                        }
                    }
                }
                int p = y * width + x;
                label[labelOffset + p] = labelAt(shapes, dist);
                for (int c = 0; c < 3; c++) {
                    float v = rgb[c] + NOISE_AMPLITUDE * (SceneShape.hash01(x, y, noiseSeed + c) - 0.5f) * 2;
                    image[imageOffset + c * plane + p] = (v - PIXEL_MEAN) / PIXEL_STD;
                }
            }
        }
    }

    /**
     * The visible label: the topmost shape whose boundary band (|d| ≤ 0.5 px) or interior holds
     * the pixel decides; its band is ignore (255), its interior its class.
     */
    private static float labelAt(SceneShape[] shapes, double[] dist) {
        for (int k = shapes.length - 1; k >= 0; k--) {
            if (dist[k] < -0.5) {
                return shapes[k].classId;
            }
            if (dist[k] <= 0.5) {
                return IGNORE;
            }
        }
        return BACKGROUND;
    }

    private static SceneShape.Texture background(SplittableRandom rnd, int height, int width) {
        float[] c1 = randomColour(rnd);
        double angle = rnd.nextDouble(2 * Math.PI);
        double dirX = Math.cos(angle);
        double dirY = Math.sin(angle);
        return switch (rnd.nextInt(3)) {
            case 0 -> { // a gradient across the image: from about c1 on one side to about c2 on the other
                double period = Math.max(height, width) * rnd.nextDouble(0.8, 1.6);
                double centre = (width * dirX + height * dirY) / 2;
                yield new SceneShape.Texture(c1, shifted(c1, 0.3f, rnd), SceneShape.Texture.GRADIENT, dirX, dirY, period,
                        0.5 - centre / period, 0);
            }
            case 1 -> new SceneShape.Texture(c1, shifted(c1, 0.15f, rnd), SceneShape.Texture.STRIPES, dirX, dirY,
                    rnd.nextDouble(4, 16), rnd.nextDouble(), 0);
            default -> new SceneShape.Texture(c1, shifted(c1, 0.25f, rnd), SceneShape.Texture.NOISE, 0, 0, 1, 0,
                    rnd.nextInt());
        };
    }

    /** A texture for a shape whose mean colour differs clearly from the background's. */
    private static SceneShape.Texture shapeTexture(SplittableRandom rnd, float[] bgMean, double texturedFraction) {
        float[] c1 = randomColour(rnd);
        for (int tries = 0; tries < 20 && contrast(c1, bgMean) < 0.4f; tries++) {
            c1 = randomColour(rnd);
        }
        double angle = rnd.nextDouble(2 * Math.PI);
        if (rnd.nextDouble() >= texturedFraction) {
            return new SceneShape.Texture(c1, c1, SceneShape.Texture.FLAT, 0, 0, 1, 0, 0);
        }
        return switch (rnd.nextInt(2)) {
            case 0 -> new SceneShape.Texture(c1, shifted(c1, 0.2f, rnd), SceneShape.Texture.STRIPES,
                    Math.cos(angle), Math.sin(angle), rnd.nextDouble(3, 10), rnd.nextDouble(), 0);
            default -> new SceneShape.Texture(c1, shifted(c1, 0.2f, rnd), SceneShape.Texture.NOISE, 0, 0, 1, 0,
                    rnd.nextInt());
        };
    }

    /** Any hue, saturation 0.2–1, value 0.15–1: the same range for every class. */
    private static float[] randomColour(SplittableRandom rnd) {
        double h = rnd.nextDouble(6);
        double s = rnd.nextDouble(0.2, 1);
        double v = rnd.nextDouble(0.15, 1);
        double f = h - Math.floor(h);
        float p = (float) (v * (1 - s));
        float q = (float) (v * (1 - s * f));
        float t = (float) (v * (1 - s * (1 - f)));
        float vv = (float) v;
        return switch ((int) h) {
            case 0 -> new float[] {vv, t, p};
            case 1 -> new float[] {q, vv, p};
            case 2 -> new float[] {p, vv, t};
            case 3 -> new float[] {p, q, vv};
            case 4 -> new float[] {t, p, vv};
            default -> new float[] {vv, p, q};
        };
    }

    private static float[] shifted(float[] rgb, float amount, SplittableRandom rnd) {
        float sign = rnd.nextBoolean() ? 1 : -1;
        float[] out = new float[3];
        for (int c = 0; c < 3; c++) {
            out[c] = Math.max(0, Math.min(1, rgb[c] + sign * amount * (float) rnd.nextDouble(0.5, 1)));
        }
        return out;
    }

    private static float contrast(float[] a, float[] b) {
        return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
    }

    /** SplitMix64's finaliser: decorrelates (seed, split, index) before seeding. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
