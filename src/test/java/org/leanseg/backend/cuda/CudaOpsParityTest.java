package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.leanseg.backend.Backend;
import org.leanseg.backend.View;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.Ops;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Every op with a CUDA kernel against the reference backend on fresh random inputs (CODE_SHAPE
 * "@Tag("gpu") CUDA parity"). Outputs are poisoned with NaN before each run and NaN never passes;
 * in-place inputs (BN running statistics, SGD state) are compared after the run too; ops that may
 * overwrite an input (in-place BN and its backward from the output, activations) run once more with
 * the output on the input's buffer, on both backends. Tolerances:
 * relative to the reference's largest magnitude, 1e-5 for our kernels, 1e-4 for float32 cuDNN
 * convolutions (other summation orders), 1e-2 with TF32. Cases: {@link ParityCases}.
 * Run: {@code mvn -B test -Dgroups=gpu} (skips with a one-line reason without a GPU).
 */
@Tag("gpu")
class CudaOpsParityTest {
    private static CudaBackend gpu;
    private static CudaBackend gpuTf32;

    @BeforeAll
    static void open() {
        if (CudaProbe.usable()) {
            gpu = new CudaBackend(CudaBackend.Options.defaults());
            gpuTf32 = new CudaBackend(new CudaBackend.Options(true, 256L << 20));
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            gpuTf32.close();
        }
    }

    /** Runs op on a backend: one buffer per tensor, outputs poisoned with NaN; returns outputs then inputs after. */
    static List<Tensor> run(Backend b, Op op, List<Tensor> inputs) {
        return run(b, op, inputs, false);
    }

    /** Whether some output of op may overwrite an input ({@link Op#inPlaceInput}). */
    static boolean hasInPlaceOutput(Op op, int outputs) {
        for (int i = 0; i < outputs; i++) {
            if (op.inPlaceInput(i) >= 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * As {@link #run(Backend, Op, List)}; with {@code aliased}, each output that may overwrite an input
     * ({@link Op#inPlaceInput}) is that input's view, as the planner lays them out.
     */
    static List<Tensor> run(Backend b, Op op, List<Tensor> inputs, boolean aliased) {
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

    @TestFactory
    Stream<DynamicTest> everyOpMatchesReference() {
        GpuTests.assumeGpu();
        return ParityCases.all(new Random(20261122)).stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c, gpu, c.tolerance())));
    }

    /** In-place ops (in-place BN, its backward, activations, add) with their outputs on their inputs' buffers. */
    @TestFactory
    Stream<DynamicTest> inPlaceOpsMatchReferenceWhenAliased() {
        GpuTests.assumeGpu();
        return ParityCases.all(new Random(11)).stream()
                .filter(c -> hasInPlaceOutput(c.op(), c.op().infer(c.inputs().stream().map(Tensor::spec).toList()).size()))
                .map(c -> DynamicTest.dynamicTest(c.name() + " aliased", () -> check(c, gpu, c.tolerance(), true)));
    }

    @TestFactory
    Stream<DynamicTest> convolutionsMatchWithTf32() {
        GpuTests.assumeGpu();
        return ParityCases.all(new Random(7)).stream().filter(c -> c.name().startsWith("conv"))
                .map(c -> DynamicTest.dynamicTest(c.name() + " tf32", () -> check(c, gpuTf32, 1e-2)));
    }

    private static void check(ParityCases.Case c, CudaBackend backend, double tol) {
        check(c, backend, tol, false);
    }

    private static void check(ParityCases.Case c, CudaBackend backend, double tol, boolean aliased) {
        List<Tensor> ref = run(new ReferenceBackend(), c.op(), c.inputs(), aliased);
        List<Tensor> got = run(backend, c.op(), c.inputs(), aliased);
        StringBuilder report = new StringBuilder();
        boolean ok = true;
        for (int i = 0; i < ref.size(); i++) {
            double e = GpuTests.relativeError(got.get(i), ref.get(i), 1e-3);
            boolean pass = e <= tol;
            ok &= pass;
            report.append(String.format("  %s %d: rel err %.3g%s%n", i < ref.size() - c.inputs().size() ? "output" : "input",
                    i, e, pass ? "" : " > " + tol));
        }
        System.out.print(c.name() + "\n" + report);
        assertTrue(ok, c.name() + " differs from the reference:\n" + report);
    }

    @Test
    void crossEntropyRejectsBadLabelOnGpu() {
        GpuTests.assumeGpu();
        Tensor z = Tensor.gaussian(org.leanseg.tensor.Shape.of(1, 3, 2, 2), 1, new Random(1));
        Tensor labels = Tensor.labels(org.leanseg.tensor.Shape.of(1, 2, 2), 0, 1, 7, 255);
        OpException e = assertThrows(OpException.class, () -> run(gpu, SoftmaxCrossEntropy.of(255), List.of(z, labels)));
        assertTrue(e.getMessage().contains("flat pixel 2"), e.getMessage());
    }
}
