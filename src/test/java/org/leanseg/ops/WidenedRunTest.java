package org.leanseg.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.leanseg.backend.Backend;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.ParityCases;

/**
 * Note [Widened 16-bit runs]: the code the cuda device runs for an op whose kernel does not take its 16-bit views
 * ({@link Ops#runWidened}: float32 copies converted on the backend, the float32 kernel, the outputs and updated
 * inputs rounded back), run here on the cpu backend's float32 kernels and on the reference backend, over every
 * 16-bit parity case (plain and with in-place outputs aliased to their inputs), against the reference's
 * emulation with the same tolerances as the native 16-bit kernels. Also the plan's count of the copies.
 */
class WidenedRunTest {
    private static CpuBackend cpu;

    @org.junit.jupiter.api.BeforeAll
    static void open() {
        if (CpuNative.available()) {
            cpu = new CpuBackend();
        }
    }

    @org.junit.jupiter.api.AfterAll
    static void close() {
        if (cpu != null) {
            cpu.close();
        }
    }

    private static Stream<ParityCases.Case> cases16() {
        Random rnd = new Random(System.nanoTime());
        return Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream())
                .filter(c -> Ops.cell(Device.CPU, c.op()) != null);
    }

    private static Stream<DynamicTest> on(Backend b, String name) {
        return Stream.concat(cases16().map(c -> DynamicTest.dynamicTest(c.name() + " widened on " + name,
                        () -> BackendParity.check(c, b, c.tolerance(), false, Ops::runWidened))),
                cases16().filter(BackendParity::hasInPlaceOutput).map(c -> DynamicTest.dynamicTest(c.name() + " widened on " + name
                        + " aliased", () -> BackendParity.check(c, b, c.tolerance(), true, Ops::runWidened))));
    }

    @TestFactory
    Stream<DynamicTest> cpuFloatKernelsOnWidenedCopiesMatchTheReference() {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
        return on(cpu, "cpu");
    }

    @TestFactory
    Stream<DynamicTest> referenceKernelsOnWidenedCopiesMatchTheReference() {
        return on(new ReferenceBackend(), "reference");
    }

    /**
     * A whole bf16 training step of the tiny model (the step the cuda device runs, StepPasses.forDevice(CUDA)) with
     * every 16-bit op on the cpu backend's float32 kernels over widened copies, the path cuda takes, against the
     * reference's emulation within StepSpread's tolerance (as CpuMixedPrecisionTest for the native kernels): the
     * planner's in-place outputs included.
     */
    @Test
    void trainingStepsOnWidenedCopiesMatchTheReferenceEmulation() {
        stepOnWidenedCopies(org.leanseg.graph.passes.StepPasses.forDevice(Device.CUDA), "cuda's step");
    }

    /**
     * The same with the fused step the cpu device runs (in-place BN and its backward from the output writing dX over
     * dY, fused ReLU-depthwise convolutions, the fused upsample loss): aliased views widened once and rounded back.
     */
    @Test
    void fusedTrainingStepOnWidenedCopiesMatchesTheReferenceEmulation() {
        stepOnWidenedCopies(org.leanseg.graph.passes.StepPasses.forDevice(Device.CPU), "the fused step");
    }

    private static void stepOnWidenedCopies(org.leanseg.graph.passes.StepPasses passes, String which) {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
        Device<?, ?> prev = Ops.widenForTests(Device.CPU);
        try {
            org.leanseg.backend.cuda.CudaTrainStepTest.Run got = org.leanseg.backend.cuda.CudaTrainStepTest.checkBf16Step(
                    "WidenedRunTest (bf16, " + which + " on widened cpu kernels)", passes, CpuBackend::new);
            assertEquals(DType.BF16, got.logits().spec().dtype());
        } finally {
            Ops.widenForTests(prev);
        }
    }

    /** A 16-bit resize the row-band kernels do not take (input rows past 2,048) plans its float32 copies on cuda; others none. */
    @Test
    void wideSixteenBitResizePlansItsCopies() {
        org.leanseg.ops.shape.Resize wide = new org.leanseg.ops.shape.Resize(2, 1024, false);
        TensorSpec x = new TensorSpec(Shape.of(1, 2, 2, 4096), DType.BF16);
        long copies = org.leanseg.memory.Planner.align(4L * 2 * 2 * 4096) + org.leanseg.memory.Planner.align(4L * 2 * 2 * 1024);
        assertEquals(0, org.leanseg.ops.shape.ShapeCuda.resizeWorkspace(wide, List.of(new TensorSpec(x.shape(), DType.F32))));
        assertEquals(copies, org.leanseg.ops.shape.ShapeCuda.resizeWorkspace(wide, List.of(x)));
        org.leanseg.ops.shape.Resize x4 = new org.leanseg.ops.shape.Resize(64, 64, false);
        assertEquals(0, org.leanseg.ops.shape.ShapeCuda.resizeWorkspace(x4, List.of(new TensorSpec(Shape.of(2, 8, 16, 16), DType.BF16))));
    }

    /** The run converts only 16-bit views; float32 and integer views go to the kernel as they are. */
    @Test
    void onlySixteenBitViewsAreCopied() {
        ReferenceBackend ref = new ReferenceBackend();
        TensorSpec logits = new TensorSpec(Shape.of(1, 3, 2, 2), DType.BF16);
        TensorSpec labels = TensorSpec.i32(1, 2, 2);
        org.leanseg.backend.View z = ref.view(ref.allocate(logits.bytes(), 2), 0, logits);
        org.leanseg.backend.View l = ref.view(ref.allocate(labels.bytes()), 0, labels);
        org.leanseg.backend.View loss = ref.view(ref.allocate(4), 0, TensorSpec.f32(1));
        ref.upload(new Tensor(logits, new float[] {0.1f, 2f, -1f, 0.3f, 1f, 1f, 0f, 0f, -2f, 0.5f, 0.25f, 3f}), z);
        ref.upload(Tensor.labels(Shape.of(1, 2, 2), new int[] {0, 1, 2, 1}), l);
        org.leanseg.ops.loss.SoftmaxCrossEntropy ce = new org.leanseg.ops.loss.SoftmaxCrossEntropy(255, null);
        Ops.runWidened(ref, ce, new org.leanseg.backend.View[] {z, l}, new org.leanseg.backend.View[] {loss});
        Tensor got = new Tensor(TensorSpec.f32(1), new float[1]);
        ref.download(loss, got);
        List<Tensor> direct = BackendParity.run(new ReferenceBackend(), ce, List.of(new Tensor(logits,
                new float[] {0.1f, 2f, -1f, 0.3f, 1f, 1f, 0f, 0f, -2f, 0.5f, 0.25f, 3f}), Tensor.labels(Shape.of(1, 2, 2),
                new int[] {0, 1, 2, 1})), false);
        assertEquals(direct.get(0).data()[0], got.data()[0], 0f);
    }

    /**
     * On cuda the plan counts the copies as the op's workspace: 4 bytes an element of each 16-bit input and output
     * (aligned), a 16-bit and a float32 copy of each rounded operand (a convolution's weights), beside the kernel's
     * own; a float32 op counts its kernel's only.
     */
    @Test
    void cudaPlansTheCopiesAsWorkspace() {
        org.leanseg.ops.elementwise.Activation relu = org.leanseg.ops.elementwise.Activation.relu();
        TensorSpec x16 = new TensorSpec(Shape.of(2, 8, 16, 16), DType.BF16);
        long copies = 2 * org.leanseg.memory.Planner.align(4L * x16.shape().numel());
        assertEquals(copies, Ops.workspaceBytes(Device.CUDA, relu, List.of(x16)));
        assertEquals(0, Ops.workspaceBytes(Device.CUDA, relu, List.of(new TensorSpec(x16.shape(), DType.F32))));
        org.leanseg.ops.conv.Conv2d conv = new org.leanseg.ops.conv.Conv2d(1, 1, 1, 1, 1, 1, 1);
        List<TensorSpec> convIn = List.of(x16, TensorSpec.f32(8, 8, 3, 3));
        long convWs = Ops.workspaceBytes(Device.CUDA, conv, List.of(new TensorSpec(x16.shape(), DType.F32), TensorSpec.f32(8, 8, 3, 3)));
        assertTrue(convWs > 0, "a cuDNN convolution plans its workspace");
        long weights = org.leanseg.memory.Planner.align(2L * 8 * 8 * 9) + org.leanseg.memory.Planner.align(4L * 8 * 8 * 9);
        assertEquals(copies + weights + convWs, Ops.workspaceBytes(Device.CUDA, conv, convIn));
    }
}
