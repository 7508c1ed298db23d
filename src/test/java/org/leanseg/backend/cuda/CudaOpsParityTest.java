package org.leanseg.backend.cuda;

import org.leanseg.testing.BackendParity;
import org.leanseg.testing.ParityCases;

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
import org.leanseg.ops.Device;
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
 * convolutions (other summation orders), 1e-2 with TF32. Cases: {@link ParityCases} (shared with every backend), harness {@link BackendParity}.
 * Run: {@code mvn -B test -Dgroups=gpu} (skips with a one-line reason without a GPU).
 */
@Tag("gpu")
class CudaOpsParityTest {
    private static CudaBackend gpu;
    private static CudaBackend gpuTf32;

    @BeforeAll
    static void open() {
        if (CudaProbe.usable()) {
            gpu = new CudaBackend(CudaBackend.Options.repeatable());
            gpuTf32 = new CudaBackend(new CudaBackend.Options(true, CudaBackend.WORKSPACE_LIMIT, true, false));
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            gpuTf32.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> everyOpMatchesReference() {
        GpuTests.assumeGpu();
        // rows without a CUDA kernel (the fused upsample loss, distillation) have nothing to check here: a step that needs
        // them on CUDA fails with the op table's one-line error
        return ParityCases.all(new Random(20261122)).stream().filter(c -> Ops.cell(Device.CUDA, c.op()) != null)
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c, gpu, c.tolerance())));
    }

    /** In-place ops (in-place BN, its backward, activations, add) with their outputs on their inputs' buffers. */
    @TestFactory
    Stream<DynamicTest> inPlaceOpsMatchReferenceWhenAliased() {
        GpuTests.assumeGpu();
        return ParityCases.all(new Random(11)).stream()
                .filter(BackendParity::hasInPlaceOutput)
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
        BackendParity.check(c, backend, tol, aliased);
    }

    @Test
    void crossEntropyRejectsBadLabelOnGpu() {
        GpuTests.assumeGpu();
        Tensor z = Tensor.gaussian(org.leanseg.tensor.Shape.of(1, 3, 2, 2), 1, new Random(1));
        Tensor labels = Tensor.labels(org.leanseg.tensor.Shape.of(1, 2, 2), 0, 1, 7, 255);
        OpException e = assertThrows(OpException.class, () -> BackendParity.run(gpu, SoftmaxCrossEntropy.of(255), List.of(z, labels), false));
        assertTrue(e.getMessage().contains("flat pixel 2"), e.getMessage());
    }
}
