package org.leanseg.backend;

import org.leanseg.tensor.TensorSpec;

/** A typed window (base + offset) into a backend buffer, as kernels see it. */
public interface View {
    TensorSpec spec();
}
