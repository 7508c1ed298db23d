package org.leanseg.graph.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** Note [Activation mask from its input]: the gate from x equals the gate from act(x), bit for bit; where the pass applies. */
class ActivationMaskFromInputTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4);

    @Test
    void gateFromInputEqualsGateFromOutputOnEveryEdgeValue() {
        float[] xs = {-0f, 0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, -1e-30f, 0.5f, -0.5f, 5.999999f, 6f, 6.000001f,
            7f, 1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0x7fc00001), Float.intBitsToFloat(0xffc00000)};
        for (Activation.Kind kind : Activation.Kind.values()) {
            Activation act = new Activation(kind);
            float[] ys = new float[xs.length];
            TensorSpec spec = TensorSpec.f32(xs.length);
            Activation.reference(act, new RefView[] {new RefView(xs, 0, spec)}, new RefView[] {new RefView(ys, 0, spec)});
            float[] dy = new float[xs.length];
            java.util.Arrays.fill(dy, 1.25f);
            float[] fromX = new float[xs.length];
            float[] fromY = new float[xs.length];
            ActivationBackward b = new ActivationBackward(kind);
            ActivationBackward.reference(b, new RefView[] {new RefView(xs, 0, spec), new RefView(dy, 0, spec)},
                    new RefView[] {new RefView(fromX, 0, spec)});
            ActivationBackward.reference(b, new RefView[] {new RefView(ys, 0, spec), new RefView(dy, 0, spec)},
                    new RefView[] {new RefView(fromY, 0, spec)});
            for (int i = 0; i < xs.length; i++) {
                assertEquals(Float.floatToRawIntBits(fromY[i]), Float.floatToRawIntBits(fromX[i]), kind + " at x = " + xs[i]);
            }
        }
    }

    @Test
    void activationsAfterInPlaceBatchNormGateFromTheKeptBatchNormOutput() {
        // the cpu step's passes: with nativeOnly those ReLUs go into their convolutions (Note [Activation into a dense convolution])
        assertTrue(gatesFromInput(StepPasses.FUSED.withNativeOnly(false)) >= 4, "ASPP and decoder ReLUs gate from their BN's output");
        assertEquals(0, gatesFromInput(StepPasses.NONE), "the plain step is left alone");
    }

    /** Activation backwards gating from an activation's input; fails where one gates from an output whose input backward keeps. */
    private static int gatesFromInput(StepPasses passes) {
        Graph step = new TrainGraph(new DeepLabV3Plus(TINY), 2, 64, 64, OptimizerSettings.pytorchDefault(), 1, passes).stepGraph();
        int fromInput = 0;
        for (Node b : step.nodes()) {
            if (!(b.op() instanceof ActivationBackward)) {
                continue;
            }
            Node p = b.input(0).producer();
            if (passes.fuse() && p != null && p.op() instanceof Activation) {
                assertTrue(p.input(0).users().stream().noneMatch(u -> u.op() instanceof BatchNormBackward),
                        b + " gates from an output whose input backward keeps");
            }
            fromInput += b.input(0).users().stream().anyMatch(u -> u.op() instanceof Activation && u.phase() == Phase.FORWARD) ? 1 : 0;
        }
        return fromInput;
    }
}
