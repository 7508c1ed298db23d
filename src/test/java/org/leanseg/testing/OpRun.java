package org.leanseg.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.Op;
import org.leanseg.tensor.Tensor;

/**
 * Runs one op once on the reference backend, for hand-computed op tests. Every input is bound as a
 * persistent variable, so in-place updates (BN running statistics, SGD) can be read back.
 *
 * <pre>{@code
 * OpRun.Result r = OpRun.run(new Argmax(), logits);
 * Tensor classes = r.output(0);
 * }</pre>
 */
public final class OpRun {
    private OpRun() {
    }

    /** Outputs of the op, and the inputs as they are after the run. */
    public record Result(List<Tensor> outputs, List<Tensor> inputs) {
        public Tensor output(int i) {
            return outputs.get(i);
        }

        public Tensor input(int i) {
            return inputs.get(i);
        }
    }

    public static Result run(Op op, Tensor... in) {
        Graph g = new Graph();
        VariableStore store = new VariableStore();
        List<Value> ins = new ArrayList<>();
        for (int i = 0; i < in.length; i++) {
            Variable v = new Variable("in" + i, in[i].spec(), Role.BUFFER);
            store.set(v, in[i]);
            ins.add(g.variable(v));
        }
        List<Value> outs = g.apply(op, ins.toArray(new Value[0]));
        outs.forEach(g::markOutput);
        try (Executor ex = new Executor(g, new ReferenceBackend(), store)) {
            ex.run(Map.of());
            List<Tensor> o = new ArrayList<>();
            for (Value v : outs) {
                o.add(ex.read(v));
            }
            List<Tensor> after = new ArrayList<>();
            for (Value v : ins) {
                after.add(ex.read(v));
            }
            return new Result(o, after);
        }
    }
}
