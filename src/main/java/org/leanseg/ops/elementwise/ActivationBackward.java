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
        float[] y = in[0].data();
        int yo = in[0].offset();
        float[] dy = in[1].data();
        int dyo = in[1].offset();
        float[] dx = out[0].data();
        int dxo = out[0].offset();
        Activation.Kind kind = op.kind;
        Parallel.range(in[0].size(), 1 << 15, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                dx[dxo + i] = kind.gate(y[yo + i], dy[dyo + i]);   // branch-free: see Kind.gate
            }
        });
    }
}
