package org.leanseg.ops.shape;

import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/** Checks shared by the resize, pool, concat and slice ops: NCHW inputs. */
final class ShapeChecks {
    private ShapeChecks() {
    }

    /** Checks that {@code t} is rank 4 ([N, C, H, W]) and returns its shape. */
    static Shape nchw(TensorSpec t, String what) {
        OpException.check(t.shape().rank() == 4, what + " must be [N, C, H, W], got " + t);
        return t.shape();
    }

    /** Parallel grain (items per task) for loops whose items each touch {@code perItem} elements. */
    static int grain(long perItem) {
        return (int) Math.max(1, (1 << 14) / Math.max(1, perItem));
    }
}
