package org.leanseg.ops.elementwise;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * acc += x, in place on input 0 (a persistent gradient accumulator). No outputs. Gradient
 * accumulation over micro-batches is exact: the optimizer zeroes the accumulator after using it.
 */
public record AccumulateInto() implements Op {
    @Override
    public String name() {
        return "accumulate_into";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2 && in.get(0).equals(in.get(1)),
                "needs an accumulator and a value of the same shape, got " + in);
        return List.of();
    }

    @Override
    public int[] mutatedInputs() {
        return new int[] {0};
    }

    public static void reference(AccumulateInto op, RefView[] in, RefView[] out) {
        RefView acc = in[0];
        RefView x = in[1];
        Parallel.range(acc.size(), 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                acc.data()[acc.offset() + i] += x.data()[x.offset() + i];
            }
        });
    }
}
