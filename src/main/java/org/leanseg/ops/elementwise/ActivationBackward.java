package org.leanseg.ops.elementwise;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/** dX = dY where the activation's output is strictly inside (0, cap), else 0. Inputs: y, dY. */
public record ActivationBackward(Activation.Kind kind) implements Op {
    @Override
    public String name() {
        return kind == Activation.Kind.RELU ? "relu_backward" : "relu6_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2 && in.get(0).equals(in.get(1)), "needs y and dY of the same shape");
        return List.of(in.get(0));
    }

    /** Elementwise: dX may overwrite dY. */
    @Override
    public int inPlaceInput(int output) {
        return 1;
    }

    public static void reference(ActivationBackward op, RefView[] in, RefView[] out) {
        RefView y = in[0];
        RefView dy = in[1];
        RefView dx = out[0];
        Activation.Kind k = op.kind;
        Parallel.range(y.size(), 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                dx.data()[dx.offset() + i] = k.passes(y.data()[y.offset() + i]) ? dy.data()[dy.offset() + i] : 0f;
            }
        });
    }
}
