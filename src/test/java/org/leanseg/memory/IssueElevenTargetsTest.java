package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.norm.BatchNormBackwardThroughConv;
import org.leanseg.profile.StepPlan;

/**
 * Issue 11's MobileNetV2 target, as a plan (nothing allocated) of one SGD step of DeepLabV3+ at
 * batch 8 x 3 x 512 x 512, fp32, 21 classes, under {@code none} on the reference device: planned
 * peak at most 1.20 GiB (1228.8 MiB), with at most 1% extra FLOPs, and the classifier's BN
 * backward the only one fused through its 1x1 convolution (Note [BN backward through a 1x1
 * convolution]), its second data gradient counted as recomputation. docs/benchmarks.md "Issue 11"
 * has the figures and commands. Run: {@code mvn -B -q test -Dtest=IssueElevenTargetsTest}.
 */
class IssueElevenTargetsTest {
    @Test
    void mobileNetV2At8x512PlansAtMost1Point2GiBUnderNone() {
        StepPlan p = StepPlan.of(ModelConfig.of("deeplabv3plus_mobilenetv2"), 8, 512, 512,
                StepPasses.forDevice(Device.REFERENCE).withRecompute(RecomputePolicy.none()));
        MemoryReport r = p.report();
        String what = String.format("planned %.1f MiB, arena %.1f MiB, +%.2f %% FLOPs", r.plannedPeakBytes() / 1048576.0,
                r.activationPeakBytes() / 1048576.0, 100 * r.recomputeRatio());
        assertTrue(r.plannedPeakBytes() <= 1.2 * 1024 * 1048576L, what);
        assertTrue(r.recomputeRatio() <= 0.01, what);
        long fused = p.schedule().stream().filter(n -> n.op() instanceof BatchNormBackwardThroughConv).count();
        assertEquals(1, fused, "the classifier's BN backward only");
        Node n = p.schedule().stream().filter(m -> m.op() instanceof BatchNormBackwardThroughConv).findFirst().orElseThrow();
        assertTrue(n.stage().startsWith("decoder"), n.toString());
    }
}
