package org.leanseg.backend.reference;

import org.leanseg.backend.View;
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

    /** Copies out to a fresh array. */
    public float[] toArray() {
        float[] a = new float[size()];
        System.arraycopy(data, offset, a, 0, a.length);
        return a;
    }
}
