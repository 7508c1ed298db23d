package org.leanseg.backend.reference;

import org.leanseg.backend.View;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/** A window of a float array: {@code data[offset .. offset + numel)} holds the tensor row-major. */
public record RefView(float[] data, int offset, TensorSpec spec) implements View {
    public Shape shape() {
        return spec.shape();
    }

    public int size() {
        return spec.shape().size();
    }

    public float get(int i) {
        return data[offset + i];
    }

    public void set(int i, float v) {
        data[offset + i] = v;
    }

    /**
     * Round on store: each element becomes the value this view's dtype stores (a 16-bit float rounded
     * to nearest-even, Note [Mixed precision] in tensor/Precision); nothing to do for 32-bit types.
     */
    public void roundToStorage() {
        DType t = spec.dtype();
        if (t.isHalf()) {
            Parallel.range(size(), 1 << 16, (lo, hi) -> {
                for (int i = offset + lo; i < offset + hi; i++) {
                    data[i] = t.round(data[i]);
                }
            });
        }
    }

    /**
     * This view's values as a kernel with {@code dtype} operands reads them: itself unless
     * {@code dtype} is 16-bit, else a rounded copy (a mixed-precision convolution's fp32 weights,
     * converted to the activations' type as tensor cores and oneDNN's bf16 convolutions take them).
     */
    public RefView roundedTo(DType dtype) {
        if (!dtype.isHalf() || spec.dtype() == dtype) {
            return this;
        }
        float[] a = toArray();
        for (int i = 0; i < a.length; i++) {
            a[i] = dtype.round(a[i]);
        }
        return new RefView(a, 0, spec);
    }

    /** Copies out to a fresh array. */
    public float[] toArray() {
        float[] a = new float[size()];
        System.arraycopy(data, offset, a, 0, a.length);
        return a;
    }
}
