package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.leanseg.backend.View;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaProbe;
import org.leanseg.backend.cuda.CudaTrainStepTest;
import org.leanseg.backend.cuda.GpuTests;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.ops.Device;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.ParityCases;

/**
 * Note [Mixed precision] on the cuda backend: 16-bit storage (2 bytes an element; uploads, downloads and the
 * device conversion ls_convert_k rounding as {@link DType#round}), every 16-bit parity case through the cuda
 * device's path (Note [Widened 16-bit runs]: float32 kernels on device copies), bf16 training steps against the
 * reference's emulation, an fp16 step, and fp16's loss scaling with the overflow check on the device. The same
 * code runs on the CPU in WidenedRunTest (cpu and reference backends) and HostKernelMathTest (the conversions and
 * the state update); these need a GPU. Run: {@code mvn -B test -Dgroups=gpu -Dtest=CudaMixedPrecisionTest}.
 */
@Tag("gpu")
class CudaMixedPrecisionTest {
    private static CudaBackend gpu;

    @BeforeAll
    static void open() {
        if (CudaProbe.usable()) {
            gpu = new CudaBackend(CudaBackend.Options.repeatable());
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @Test
    void storageAndDeviceConversionRoundAsDTypeRound() {
        GpuTests.assumeGpu();
        Random rnd = new Random(7);
        int n = 1 << 16;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i < 12 ? new float[] {0f, -0f, 1f + 0x1p-8f, 1f + 0x1p-11f, 65519f, 65520f, -1e9f, 0x1p-25f, 0x1p-24f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.MIN_VALUE}[i] : Float.intBitsToFloat(rnd.nextInt());
        }
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            TensorSpec spec = new TensorSpec(Shape.of(n), t);
            View uploaded = gpu.view(gpu.allocate(spec.bytes()), 0, spec);
            gpu.upload(Tensor.of(Shape.of(n), v.clone()), uploaded);
            View floats = gpu.view(gpu.allocate(4L * n), 0, TensorSpec.f32(n));
            gpu.upload(Tensor.of(Shape.of(n), v.clone()), floats);
            View converted = gpu.view(gpu.allocate(spec.bytes()), 0, spec);
            gpu.convert(floats, converted);
            View widened = gpu.view(gpu.allocate(4L * n), 0, TensorSpec.f32(n));
            gpu.convert(converted, widened);
            for (View view : new View[] {uploaded, converted, widened}) {
                Tensor back = new Tensor(view.spec(), new float[n]);
                gpu.download(view, back);
                for (int i = 0; i < n; i++) {
                    float want = t.round(v[i]);
                    float got = back.data()[i];
                    assertTrue(Float.isNaN(want) ? Float.isNaN(got) : Float.floatToIntBits(want) == Float.floatToIntBits(got),
                            t + " of " + v[i] + " (" + view.spec() + "): " + got + ", want " + want);
                }
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> everyOpMatchesReferenceOn16BitData() {
        GpuTests.assumeGpu();
        Random rnd = new Random(System.nanoTime());
        java.util.List<ParityCases.Case> cases = Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream())
                .filter(c -> org.leanseg.ops.Ops.cell(Device.CUDA, c.op()) != null).toList();
        return Stream.concat(cases.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> BackendParity.check(c, gpu, c.tolerance(), false))),
                cases.stream().filter(BackendParity::hasInPlaceOutput).map(c -> DynamicTest.dynamicTest(c.name() + " aliased",
                        () -> BackendParity.check(c, gpu, c.tolerance(), true))));
    }

    /**
     * The same cases with the 16-bit cuda kernels (marked untested until this passes: elementwise, norm, cuDNN
     * convolutions) opted in (Note [Running untested kernels]).
     */
    @TestFactory
    Stream<DynamicTest> everyOpMatchesReferenceOn16BitDataWithThe16BitKernels() {
        GpuTests.assumeGpu();
        Random rnd = new Random(System.nanoTime());
        return Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream())
                .filter(c -> org.leanseg.ops.Ops.cell(Device.CUDA, c.op()) != null)
                .map(c -> DynamicTest.dynamicTest(c.name() + " (16-bit kernels)", () -> optedIn(() -> BackendParity.check(c, gpu,
                        c.tolerance(), false))));
    }

    /** The 16-bit convolution cases again with one image a chunk (Note [16-bit cuDNN convolutions]), opted in. */
    @TestFactory
    Stream<DynamicTest> sixteenBitConvolutionsByChunksOfOneImage() {
        GpuTests.assumeGpu();
        Random rnd = new Random(System.nanoTime());
        return Stream.of(DType.BF16, DType.F16).flatMap(t -> ParityCases.all16(rnd, t).stream())
                .filter(c -> c.op().getClass().getPackageName().endsWith(".conv") && c.inputs().get(0).shape().rank() == 4
                        && c.inputs().get(0).shape().dim(0) > 1 && org.leanseg.ops.Ops.cell(Device.CUDA, c.op()) != null)
                .map(c -> DynamicTest.dynamicTest(c.name() + " by image", () -> optedIn(() -> {
                    long prev = org.leanseg.ops.conv.ConvCpu.chunkWorkspaceLimitForTests(1);
                    try {
                        BackendParity.check(c, gpu, c.tolerance(), false);
                    } finally {
                        org.leanseg.ops.conv.ConvCpu.chunkWorkspaceLimitForTests(prev);
                    }
                })));
    }

    private static void optedIn(Runnable r) {
        String before = System.getProperty(org.leanseg.ops.Ops.UNTESTED_PROPERTY);
        System.setProperty(org.leanseg.ops.Ops.UNTESTED_PROPERTY, "cuda");
        try {
            r.run();
        } finally {
            if (before == null) {
                System.clearProperty(org.leanseg.ops.Ops.UNTESTED_PROPERTY);
            } else {
                System.setProperty(org.leanseg.ops.Ops.UNTESTED_PROPERTY, before);
            }
        }
    }

    /** The bf16 step with the 16-bit kernels and the fused step opted in, against the reference's same step. */
    @Test
    void bf16TrainingStepWithThe16BitKernelsMatchesTheReference() {
        GpuTests.assumeGpu();
        optedIn(() -> CudaTrainStepTest.checkBf16Step("CudaMixedPrecisionTest (bf16, 16-bit kernels, fused)",
                StepPasses.forDevice(Device.CUDA), () -> new CudaBackend(CudaBackend.Options.repeatable())));
    }

    /** As CpuMixedPrecisionTest's: one bf16 step of the tiny model against the reference's emulation (StepSpread). */
    @Test
    void bf16TrainingStepMatchesTheReferenceEmulation() {
        GpuTests.assumeGpu();
        CudaTrainStepTest.Run got = CudaTrainStepTest.checkBf16Step("CudaMixedPrecisionTest (bf16)", StepPasses.forDevice(Device.CUDA),
                () -> new CudaBackend(CudaBackend.Options.repeatable()));
        assertEquals(DType.BF16, got.logits().spec().dtype());
    }

    /** As CpuMixedPrecisionTest's fp16 step: the loss within 1e-3 of the reference's fp16 emulation, updates finite. */
    @Test
    void fp16StepRunsWithTheReferenceLoss() {
        GpuTests.assumeGpu();
        MixedPrecisionTest.checkFp16Loss("cuda", new CudaBackend(CudaBackend.Options.repeatable()));
    }

    /** LossScalingTest's forced overflow on cuda: the step is skipped on the device, the scale halves, nothing else moves. */
    @Test
    void forcedOverflowSkipsTheStepOnTheDevice() {
        GpuTests.assumeGpu();
        LossScalingTest.forcedOverflow(new CudaBackend(CudaBackend.Options.repeatable()),
                StepPasses.forDevice(Device.CUDA).withUpdatesInBackward(true));
    }
}
