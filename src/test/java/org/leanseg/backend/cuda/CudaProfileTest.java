package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.DeviceAllocation;
import org.leanseg.profile.Measured;
import org.leanseg.profile.PlanFormat;
import org.leanseg.profile.Profile;
import org.leanseg.profile.ProfileReport;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;

/**
 * {@code leanseg profile} on the GPU: real steps of a small MobileNetV2 step plan on the CUDA backend,
 * and the device memory the run took (cudaMemGetInfo before and after) beside the plan: at least the
 * planned arena plus the variables, and reported in the terminal summary and the JSON.
 * Run: {@code mvn -B test -Dgroups=gpu -Dtest=CudaProfileTest}.
 */
@Tag("gpu")
class CudaProfileTest {
    @Test
    void profileReportsTheDeviceMemoryTheRunTook() {
        GpuTests.assumeGpu();
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withClasses(6);
        StepPlan plan = StepPlan.of(cfg, 2, 128, 128, StepPasses.forBackend("cuda"));
        Profile p;
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            p = StepProfiler.run(plan, gpu, 2, 1);
        }
        Measured m = p.measured();
        assertEquals("cuda", m.backend());
        assertNotNull(m.deviceAfter());
        long planned = plan.report().activationPeakBytes() + plan.report().persistentBytes();
        assertTrue(m.deviceRunBytes() >= planned,
                "the driver saw " + m.deviceRunBytes() + " B taken, less than the planned arena + variables " + planned + " B");
        assertTrue(m.deviceRunBytes() <= m.deviceAfter().totalBytes());
        assertTrue(m.runPeakBytes() >= planned, "backend peak " + m.runPeakBytes() + " < planned " + planned);
        String summary = ProfileReport.summary(p);
        assertTrue(summary.contains("device memory") && summary.contains("cudaMemGetInfo"), summary);
        assertTrue(ProfileReport.jsonText(p).contains("\"runBytes\""));
    }

    /**
     * Issue 15 item 8: the device memory a step takes is bounded by the plan (arena, variables and the cuDNN
     * workspace limit, which the cuda plan counts) plus the CUDA context and libraries (what was in use when the
     * backend had started) plus {@link #ALLOWANCE}, with the default timed algorithm choice (cudnnFind, which
     * takes the whole workspace limit). The chosen algorithms and the context appear in the profile.
     */
    @Test
    void deviceUsedIsBoundedByPlanPlusContext() {
        GpuTests.assumeGpu();
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withClasses(6);
        StepPlan plan = StepPlan.of(cfg, 2, 128, 128, StepPasses.forBackend("cuda"), org.leanseg.train.OptimizerSettings.pytorchDefault(), 1,
                org.leanseg.ops.Device.CUDA);
        long planned = plan.report().plannedPeakBytes();
        assertTrue(plan.report().workspaceBytes() >= CudaBackend.WORKSPACE_LIMIT, "the cuda plan counts the cuDNN workspace limit");
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            long context = gpu.startUsedBytes();
            Profile p = StepProfiler.run(plan, gpu, 2, 1);
            long[] ft = gpu.memGetInfo();
            long used = ft[1] - ft[0];
            assertTrue(used <= planned + context + ALLOWANCE, "device used " + used + " B > planned " + planned + " B + context " + context
                    + " B + allowance " + ALLOWANCE + " B");
            String summary = ProfileReport.summary(p);
            assertTrue(summary.contains("CUDA context") && summary.contains("cudnnFind") && summary.contains("  conv "), summary);
            // issue 15 item 1: per-op device times from CUDA events, summed into the stages
            assertTrue(summary.contains("device time per op (CUDA events"), summary);
            assertTrue(!p.measured().stages().isEmpty(), "stage times");
            p.measured().stages().forEach((stage, t) -> assertTrue(t.millis() > 0, stage + ": " + t.millis() + " ms of device time"));
            assertTrue(ProfileReport.jsonText(p).contains("\"deviceReport\""));
        }
    }

    /**
     * What the device may hold beyond plan + context, stated before any GPU run: the norm reductions' scratch
     * (2 floats per block), constants, cudaMalloc rounding of the separately allocated variables, and what cuDNN
     * allocates lazily.
     */
    static final long ALLOWANCE = CudaBackend.UNPLANNED_ALLOWANCE;

    /** {@code plan --device cuda}: the plan's arena and variables allocated on the GPU, measured beside the plan. */
    @Test
    void planAllocationIsMeasuredOnTheDevice() {
        GpuTests.assumeGpu();
        StepPlan plan = StepPlan.of(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withClasses(6), 2, 128, 128,
                StepPasses.forBackend("cuda"));
        DeviceAllocation a;
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            a = StepProfiler.allocate(plan, gpu, 1);
        }
        long planned = plan.report().activationPeakBytes() + plan.report().persistentBytes();
        assertTrue(a.backendBytes() >= planned, "allocated " + a.backendBytes() + " B < planned " + planned + " B");
        assertTrue(a.driverBytes() >= a.backendBytes() / 2, "driver saw " + a.driverBytes() + " B for " + a.backendBytes() + " B allocated");
        assertTrue(PlanFormat.deviceLine(plan, a).contains("cudaMemGetInfo"));
    }
}
