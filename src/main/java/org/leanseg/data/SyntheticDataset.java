package org.leanseg.data;

import java.util.List;
import java.util.SplittableRandom;
import org.leanseg.tensor.Tensor;

/**
 * The built-in synthetic shapes (see {@link SyntheticShapes}) as a {@link Dataset}: a finite split
 * of {@code size} samples; training augmentation is a random horizontal flip.
 */
public final class SyntheticDataset implements Dataset {
    private final SyntheticShapes shapes;
    private final SyntheticShapes.Split split;
    private final int size;

    public SyntheticDataset(SyntheticShapes shapes, SyntheticShapes.Split split, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("synthetic " + split.name().toLowerCase() + " split needs at least one sample");
        }
        this.shapes = shapes;
        this.split = split;
        this.size = size;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Normalization normalization() {
        float m = SyntheticShapes.PIXEL_MEAN * 255;
        float sd = SyntheticShapes.PIXEL_STD * 255;
        return new Normalization(new float[] {m, m, m}, new float[] {sd, sd, sd});
    }

    @Override
    public int numClasses() {
        return SyntheticShapes.NUM_CLASSES;
    }

    @Override
    public List<String> classNames() {
        return SyntheticShapes.classNames();
    }

    @Override
    public Sample get(int index, SplittableRandom rnd) {
        SyntheticShapes.Sample s = shapes.sample(split, index);
        Tensor image = s.image();
        Tensor label = s.label();
        if (rnd != null && rnd.nextBoolean()) {
            flip(image.data(), 3, shapes.height(), shapes.width());
            flip(label.data(), 1, shapes.height(), shapes.width());
        }
        return new Sample(image, label, "synthetic/" + split.name().toLowerCase() + "/" + index);
    }

    static void flip(float[] d, int planes, int h, int w) {
        for (int p = 0; p < planes * h; p++) {
            int row = p * w;
            for (int i = 0, j = w - 1; i < j; i++, j--) {
                float t = d[row + i];
                d[row + i] = d[row + j];
                d[row + j] = t;
            }
        }
    }
}
