package org.leanseg.backend.cpu;

import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.CudaTrainStepTest;
import org.leanseg.backend.cuda.CudaTrainStepTest.Run;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.testing.StepSpread;

/**
 * Whole training steps of a tiny DeepLabV3+ MobileNetV2 (CudaTrainStepTest's model and data: width
 * 0.25, 5 classes, 2x3x64x64, SGD with momentum) on the cpu backend against the reference, with the
 * step the cpu device runs (fused: in-place BN, fused ReLU6·depthwise conv, cheap-op recompute) and
 * the plain one: losses of three steps, the logits of step 1, every variable (weights, BN statistics,
 * momenta) after each step, and bitwise repeatability of the cpu run.
 *
 * <p>Tolerances: {@link StepSpread} (Note [Training-step spread]).
 */
class CpuTrainStepTest {
    private static final int STEPS = 3;

    @Test
    void fusedTrainingStepsMatchReference() {
        CpuOpsParityTest.assumeCpu();
        compare(StepPasses.forDevice(org.leanseg.ops.Device.CPU));
    }

    @Test
    void plainTrainingStepsMatchReference() {
        CpuOpsParityTest.assumeCpu();
        compare(StepPasses.NONE);
    }

    private static void compare(StepPasses passes) {
        Run ref = CudaTrainStepTest.train(new ReferenceBackend(), STEPS, passes);
        Run perturbed = CudaTrainStepTest.train(new ReferenceBackend(), STEPS, passes, 1e-6);
        Run got;
        Run again;
        try (CpuBackend cpu = new CpuBackend()) {
            got = CudaTrainStepTest.train(cpu, STEPS, passes);
        }
        try (CpuBackend cpu = new CpuBackend()) {
            again = CudaTrainStepTest.train(cpu, STEPS, passes);
        }
        StepSpread.check("CpuTrainStepTest (" + (passes.fuse() ? "fused" : "plain") + ")", ref, perturbed, got, again);
    }
}
