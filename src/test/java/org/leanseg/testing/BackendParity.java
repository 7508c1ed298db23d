package org.leanseg.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.Backend;
import org.leanseg.backend.View;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.Op;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The harness every backend's kernel parity test shares: runs one {@link ParityCases} case on a
 * backend and on the reference, one buffer per tensor, outputs poisoned with NaN before the run (NaN
 * never passes), inputs compared after the run too (BN running statistics, optimizer state); with
 * {@code aliased}, each output that may overwrite an input ({@link Op#inPlaceInput}) is that input's
 * view, as the planner lays them out.
 */
public final class BackendParity {
    private BackendParity() {
    }

    /** Runs op on a backend; returns its outputs, then its inputs as they are after the run. */
    public static List<Tensor> run(Backend b, Op op, List<Tensor> inputs, boolean aliased) {
        List<TensorSpec> specs = inputs.stream().map(Tensor::spec).toList();
        List<TensorSpec> outSpecs = op.infer(specs);
        View[] in = new View[inputs.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = b.view(b.allocate(inputs.get(i).spec().bytes()), 0, specs.get(i));
            b.upload(inputs.get(i), in[i]);
        }
        View[] out = new View[outSpecs.size()];
        for (int i = 0; i < out.length; i++) {
            TensorSpec s = outSpecs.get(i);
            if (aliased && op.inPlaceInput(i) >= 0) {
                out[i] = in[op.inPlaceInput(i)];
                continue;
            }
            out[i] = b.view(b.allocate(s.bytes()), 0, s);
            float[] nan = new float[s.shape().size()];
            Arrays.fill(nan, Float.NaN);
            b.upload(new Tensor(s, nan), out[i]);
        }
        Ops.run(b, op, in, out);
        b.synchronize();
        List<Tensor> result = new ArrayList<>();
        for (View v : out) {
            result.add(download(b, v));
        }
        for (View v : in) {
            result.add(download(b, v));
        }
        return result;
    }

    private static Tensor download(Backend b, View v) {
        Tensor t = new Tensor(v.spec(), new float[v.spec().shape().size()]);
        b.download(v, t);
        return t;
    }

    /** Whether some output of op may overwrite an input ({@link Op#inPlaceInput}). */
    public static boolean hasInPlaceOutput(ParityCases.Case c) {
        int outputs = c.op().infer(c.inputs().stream().map(Tensor::spec).toList()).size();
        for (int i = 0; i < outputs; i++) {
            if (c.op().inPlaceInput(i) >= 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * max |got - ref| / max(max |ref|, floor); +infinity when a value is NaN or infinite where the
     * reference is finite (poisoned outputs that a kernel failed to write end up here).
     */
    public static double relativeError(Tensor got, Tensor ref, double floor) {
        float[] a = got.data();
        float[] b = ref.data();
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i]) && Float.isFinite(b[i])) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max / Math.max(ref.maxAbs(), floor);
    }

    /** Runs a case on {@code backend} and the reference and asserts every output and input within {@code tol}. */
    public static void check(ParityCases.Case c, Backend backend, double tol, boolean aliased) {
        List<Tensor> ref = run(new ReferenceBackend(), c.op(), c.inputs(), aliased);
        List<Tensor> got = run(backend, c.op(), c.inputs(), aliased);
        StringBuilder report = new StringBuilder();
        boolean ok = true;
        for (int i = 0; i < ref.size(); i++) {
            double e = relativeError(got.get(i), ref.get(i), 1e-3);
            boolean pass = e <= tol;
            ok &= pass;
            report.append(String.format("  %s %d: rel err %.3g%s%n", i < ref.size() - c.inputs().size() ? "output" : "input",
                    i, e, pass ? "" : " > " + tol));
        }
        assertTrue(ok, c.name() + " on " + backend.name() + " differs from the reference:\n" + report);
    }
}
