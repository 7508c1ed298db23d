package org.leanseg.tensor;

import java.util.Arrays;
import java.util.Random;

/**
 * A host tensor: a spec and its float32 data (row-major). Used for inputs, outputs, weights and
 * checkpoints. Integer tensors (labels) are stored as exact float values; the reference backend
 * keeps every dtype in 4-byte float slots (exact for |v| < 2^24, which covers class indices).
 */
public final class Tensor {
    private final TensorSpec spec;
    private final float[] data;

    public Tensor(TensorSpec spec, float[] data) {
        if (data.length != spec.shape().numel()) {
            throw new IllegalArgumentException("tensor " + spec + " needs " + spec.shape().numel()
                    + " elements, got " + data.length);
        }
        this.spec = spec;
        this.data = data;
    }

    public static Tensor zeros(Shape shape) {
        return new Tensor(new TensorSpec(shape, DType.F32), new float[shape.size()]);
    }

    public static Tensor of(Shape shape, float... data) {
        return new Tensor(new TensorSpec(shape, DType.F32), data);
    }

    public static Tensor labels(Shape shape, int... labels) {
        float[] d = new float[labels.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = labels[i];
        }
        return new Tensor(new TensorSpec(shape, DType.I32), d);
    }

    /** Uniform random values in [lo, hi). */
    public static Tensor uniform(Shape shape, double lo, double hi, Random rnd) {
        float[] d = new float[shape.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        }
        return of(shape, d);
    }

    public static Tensor gaussian(Shape shape, double std, Random rnd) {
        float[] d = new float[shape.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (std * rnd.nextGaussian());
        }
        return of(shape, d);
    }

    public TensorSpec spec() {
        return spec;
    }

    public Shape shape() {
        return spec.shape();
    }

    public DType dtype() {
        return spec.dtype();
    }

    /** The backing array (not a copy): the reference backend reads and writes it directly. */
    public float[] data() {
        return data;
    }

    public float get(int... index) {
        return data[offset(index)];
    }

    public void set(float v, int... index) {
        data[offset(index)] = v;
    }

    private int offset(int[] index) {
        Shape s = spec.shape();
        if (index.length != s.rank()) {
            throw new IllegalArgumentException("index of rank " + index.length + " for tensor " + s);
        }
        int off = 0;
        for (int i = 0; i < index.length; i++) {
            off = off * s.dim(i) + index[i];
        }
        return off;
    }

    public Tensor copy() {
        return new Tensor(spec, data.clone());
    }

    public double sum() {
        double s = 0;
        for (float v : data) {
            s += v;
        }
        return s;
    }

    public float maxAbs() {
        float m = 0;
        for (float v : data) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @Override
    public String toString() {
        int n = Math.min(8, data.length);
        return spec + Arrays.toString(Arrays.copyOf(data, n)) + (data.length > n ? "..." : "");
    }
}
