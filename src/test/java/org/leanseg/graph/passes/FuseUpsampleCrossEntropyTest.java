package org.leanseg.graph.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.CudaTrainStepTest;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.ops.shape.Resize;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** resize → CE becomes the fused upsample loss (Note [Fused upsample loss]) for every model, with and without the aux head. */
class FuseUpsampleCrossEntropyTest {
    private static final List<ModelConfig> MODELS = List.of(
            ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4),
            ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4)
                    .withAuxHead(true),
            ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withClasses(4));

    @Test
    void theFusedStepHoldsNoFullResolutionLogitsNorTheirGradient() {
        for (ModelConfig m : MODELS) {
            TrainGraph tg = new TrainGraph(new DeepLabV3Plus(m), 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED);
            Graph step = tg.stepGraph();
            long fused = step.nodes().stream().filter(n -> n.op() instanceof UpsampleSoftmaxCrossEntropy).count();
            assertEquals(m.auxHead() ? 2 : 1, fused, m + ": one fused loss per head");
            assertTrue(step.nodes().stream().anyMatch(n -> n.op() instanceof UpsampleSoftmaxCrossEntropyBackward), m.toString());
            for (Node n : step.nodes()) {
                assertFalse(n.op() instanceof SoftmaxCrossEntropy, m + ": " + n);
                for (Value v : n.outputs()) {
                    List<Integer> dims = v.spec().shape().rank() == 4 ? List.of(v.spec().shape().dim(1), v.spec().shape().dim(2)) : List.of();
                    assertFalse(dims.equals(List.of(4, 32)), m + ": full-resolution logits or gradient " + v + " of " + n);
                }
            }
            assertEquals(8, tg.logits().spec().shape().dim(2), "the step's logits are the stride-4 ones");
            assertEquals(new Resize(32, 32, false), tg.logitsUpsample());
            TrainGraph plain = new TrainGraph(new DeepLabV3Plus(m), 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.NONE);
            assertEquals(null, plain.logitsUpsample());
            assertEquals(32, plain.logits().spec().shape().dim(2));
        }
    }

    @Test
    void fusedTrainingMatchesTheUnfusedStepsOnTheReference() {
        CudaTrainStepTest.Run fused = CudaTrainStepTest.train(new ReferenceBackend(), 2, StepPasses.forDevice(Device.REFERENCE));
        CudaTrainStepTest.Run plain = CudaTrainStepTest.train(new ReferenceBackend(), 2, StepPasses.NONE);
        for (int s = 0; s < 2; s++) {
            assertEquals(plain.losses()[s], fused.losses()[s], 1e-5 * Math.abs(plain.losses()[s]), "loss of step " + s);
        }
        assertTrue(StepPasses.FUSED_OPS.stream().anyMatch(o -> o instanceof UpsampleSoftmaxCrossEntropy)
                && StepPasses.FUSED_OPS.stream().anyMatch(o -> o instanceof UpsampleSoftmaxCrossEntropyBackward), "devices without it stay unfused");
    }
}
