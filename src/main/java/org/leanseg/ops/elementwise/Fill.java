package org.leanseg.ops.elementwise;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/** A constant tensor (autograd's seed dL/dL = 1). No inputs. */
public record Fill(TensorSpec spec, float value) implements Op {
    @Override
    public String name() {
        return "fill";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.isEmpty(), "takes no inputs");
        return List.of(spec);
    }

    public static void reference(Fill op, RefView[] in, RefView[] out) {
        RefView y = out[0];
        Arrays.fill(y.data(), y.offset(), y.offset() + y.size(), op.value);
    }
}
