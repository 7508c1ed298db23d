package org.leanseg.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.leanseg.ops.OpException;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.ParityCases;

/**
 * Every op on the cpu backend (oneDNN convolutions, our native kernels, the host fallback for rows
 * without a cpu kernel) against the reference on fresh random inputs, from the one shared case list
 * ({@link ParityCases}); in-place ops once more with their outputs on their inputs' buffers.
 * Tolerances: relative to the reference's largest magnitude, {@link ParityCases#KERNEL_TOL} for our
 * kernels, {@link ParityCases#CONV_TOL} for oneDNN's float32 convolutions (other summation orders).
 * Skips with the one-line reason where the cpu backend cannot load.
 */
class CpuOpsParityTest {
    private static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (CpuNative.available()) {
            cpu = new CpuBackend();
        }
    }

    @AfterAll
    static void close() {
        if (cpu != null) {
            cpu.close();
        }
    }

    static void assumeCpu() {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
    }

    @TestFactory
    Stream<DynamicTest> everyOpMatchesReference() {
        assumeCpu();
        return ParityCases.all(new Random(System.nanoTime())).stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> BackendParity.check(c, cpu, c.tolerance(), false)));
    }

    @TestFactory
    Stream<DynamicTest> inPlaceOpsMatchReferenceWhenAliased() {
        assumeCpu();
        return ParityCases.all(new Random(System.nanoTime())).stream().filter(BackendParity::hasInPlaceOutput)
                .map(c -> DynamicTest.dynamicTest(c.name() + " aliased", () -> BackendParity.check(c, cpu, c.tolerance(), true)));
    }

    /**
     * Note [cpu convolutions by image chunks]: every convolution case of more than one image once more
     * with a workspace limit of 1 byte, so that each image runs alone (the filter gradients summed over
     * images), in f32 and bf16.
     */
    @TestFactory
    Stream<DynamicTest> convolutionsMatchReferenceByImageChunks() {
        assumeCpu();
        Random rnd = new Random(System.nanoTime());
        return Stream.concat(ParityCases.all(rnd).stream(), ParityCases.all16(rnd, DType.BF16).stream())
                .filter(c -> c.op().getClass().getPackageName().endsWith(".conv") && c.inputs().get(0).shape().rank() == 4
                        && c.inputs().get(0).shape().dim(0) > 1)
                .map(c -> DynamicTest.dynamicTest(c.name() + " by image", () -> {
                    long prev = org.leanseg.ops.conv.ConvCpu.chunkWorkspaceLimitForTests(1);
                    try {
                        BackendParity.check(c, cpu, c.tolerance(), false);
                    } finally {
                        org.leanseg.ops.conv.ConvCpu.chunkWorkspaceLimitForTests(prev);
                    }
                }));
    }

    /** Note [Mixed precision]: the cpu kernels on bf16 and fp16 data against the reference's emulation (round on store). */
    @TestFactory
    Stream<DynamicTest> everyOpMatchesReferenceOn16BitData() {
        assumeCpu();
        Random rnd = new Random(System.nanoTime());
        return Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream())
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> BackendParity.check(c, cpu, c.tolerance(), false)));
    }

    @TestFactory
    Stream<DynamicTest> inPlaceOpsMatchReferenceWhenAliasedOn16BitData() {
        assumeCpu();
        Random rnd = new Random(System.nanoTime());
        return Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream()).filter(BackendParity::hasInPlaceOutput)
                .map(c -> DynamicTest.dynamicTest(c.name() + " aliased", () -> BackendParity.check(c, cpu, c.tolerance(), true)));
    }

    /**
     * Every 16-bit case of an op the cpu column runs runs on a cpu kernel, none on the host fallback: the op
     * table says the cpu column takes 16-bit views. (The variants only the reference backend has, such as
     * Note [Activation into a dense convolution]'s, take the fallback in every precision.)
     */
    @Test
    void sixteenBitCasesRunOnCpuKernels() {
        assumeCpu();
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            for (ParityCases.Case c : ParityCases.all16(new Random(1), t)) {
                if (org.leanseg.ops.Ops.status(org.leanseg.ops.Device.CPU, c.op()) != org.leanseg.ops.Ops.Status.YES) {
                    continue;
                }
                List<org.leanseg.tensor.TensorSpec> in = c.inputs().stream().map(Tensor::spec).toList();
                assertTrue(org.leanseg.ops.Ops.cell(org.leanseg.ops.Device.CPU, c.op(), in, c.op().infer(in)) != null, c.name());
            }
        }
    }

    @Test
    void crossEntropyRejectsABadLabelWithTheReferenceMessage() {
        assumeCpu();
        Tensor z = Tensor.gaussian(Shape.of(1, 3, 2, 2), 1, new Random(1));
        Tensor labels = Tensor.labels(Shape.of(1, 2, 2), 0, 1, 7, 255);
        OpException e = assertThrows(OpException.class, () -> BackendParity.run(cpu, SoftmaxCrossEntropy.of(255), List.of(z, labels), false));
        assertTrue(e.getMessage().contains("label 7"), e.getMessage());
    }

    @Test
    void fusedUpsampleLossRejectsABadLabelWithTheReferenceMessage() {
        assumeCpu();
        Tensor z = Tensor.gaussian(Shape.of(1, 3, 1, 1), 1, new Random(1));
        Tensor labels = Tensor.labels(Shape.of(1, 2, 2), 0, 1, 7, 255);
        for (org.leanseg.ops.Op op : List.of(new UpsampleSoftmaxCrossEntropy(2, 2, false, 255, null))) {
            OpException e = assertThrows(OpException.class, () -> BackendParity.run(cpu, op, List.of(z, labels), false));
            assertTrue(e.getMessage().contains("label 7") && e.getMessage().contains("[0, 1, 0]"), e.getMessage());
        }
    }
}
