package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.View;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Note [Mixed precision] on the cpu backend: native 16-bit storage rounds as {@link DType#round}
 * does, and a bf16 step (its 16-bit ops on the reference kernels, the rest native) matches the
 * reference backend's emulation.
 */
class CpuMixedPrecisionTest {
    @BeforeEach
    void needsCpu() {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
    }

    @Test
    void nativeStorageRoundsAsDTypeRound() {
        Random rnd = new Random(7);
        int n = 1 << 16;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i < 16 ? new float[] {0f, -0f, 1f + 0x1p-8f, 1f + 0x1p-11f, 65519f, 65520f, -1e9f, 0x1p-25f, 0x1p-24f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.MIN_VALUE, Float.MAX_VALUE, 1f + 3 * 0x1p-8f, 0x1p-14f, -0x1p-15f}[i]
                    : Float.intBitsToFloat(rnd.nextInt());
        }
        try (CpuBackend cpu = new CpuBackend()) {
            for (DType t : new DType[] {DType.BF16, DType.F16}) {
                TensorSpec spec = new TensorSpec(Shape.of(n), t);
                View view = cpu.view(cpu.allocate(spec.bytes()), 0, spec);
                cpu.upload(Tensor.of(Shape.of(n), v.clone()), view);
                Tensor back = new Tensor(spec, new float[n]);
                cpu.download(view, back);
                for (int i = 0; i < n; i++) {
                    float want = t.round(v[i]);
                    float got = back.data()[i];
                    assertTrue(Float.isNaN(want) ? Float.isNaN(got) : Float.floatToIntBits(want) == Float.floatToIntBits(got),
                            t + " of " + v[i] + ": " + got + ", want " + want);
                }
            }
        }
    }

    /** Same graph, same rounding: only the native f32 kernels (the SGD update) may differ in the last bits. */
    @Test
    void bf16StepMatchesTheReferenceEmulation() {
        MixedPrecisionTest.Run ref = MixedPrecisionTest.step(Precision.BF16, new ReferenceBackend());
        MixedPrecisionTest.Run cpu = MixedPrecisionTest.step(Precision.BF16, new CpuBackend());
        double update = MixedPrecisionTest.relativeError(cpu.updates(), ref.updates());
        assertEquals(ref.loss(), cpu.loss(), 0f, "the forward runs the same kernels on the same 16-bit values");
        assertTrue(update < 1e-5, "cpu vs reference bf16 updates: " + update);
    }

    @Test
    void theLogSaysWhichOpsRunOnTheReferenceKernels() {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 5);
        List<String> log = new ArrayList<>();
        try (CpuBackend backend = new CpuBackend();
             StepRunner r = new StepRunner(m, 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, backend, store,
                     StepPasses.forBackend("cpu"), null, Precision.BF16, log::add)) {
            String line = r.precisionLine();
            assertTrue(line.startsWith("precision bf16: activations and their gradients in bf16") && line.contains("cpu runs ")
                    && line.contains("conv2d=") && !line.contains("sgd="), line);
        }
    }
}
