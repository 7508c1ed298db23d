package org.leanseg.graph.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.Trace;
import org.leanseg.ops.Ops;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** The rewrite passes as data: what they replace, what they keep, where recomputation lands. */
class PassesTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4);

    private static Graph forward() {
        Graph g = new Graph();
        Value x = g.input("image", TensorSpec.f32(2, 3, 64, 64));
        g.markOutput(new DeepLabV3Plus(TINY).forward(new Trace(g, true), x).logits());
        return g;
    }

    @Test
    void copyKeepsNodesStagesPhasesAndOutputs() {
        Graph g = forward();
        Rebuild.Result r = Rebuild.run(g, (out, n, in) -> null);
        assertEquals(g.nodes().size(), r.graph().nodes().size());
        for (int i = 0; i < g.nodes().size(); i++) {
            Node a = g.nodes().get(i);
            Node b = r.graph().nodes().get(i);
            assertEquals(a.op(), b.op());
            assertEquals(a.stage(), b.stage());
            assertEquals(a.phase(), b.phase());
        }
        assertEquals(r.get(g.outputs().get(0)), r.graph().outputs().get(0));
        assertEquals("image", r.get(g.inputs().get(0)).name());
    }

    @Test
    void forwardFusionReplacesBatchNormAndActivationBeforeDepthwise() {
        Graph g = forward();
        Rebuild.Result r = StepPasses.FUSED.beforeAutograd(g);
        Graph f = r.graph();
        long stockBn = f.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.TRAIN).count();
        long inPlaceBn = f.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.TRAIN_IN_PLACE).count();
        assertEquals(g.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.TRAIN).count(), stockBn + inPlaceBn);
        assertTrue(inPlaceBn > stockBn, "most BN inputs are read by BN only");
        long fusedDw = f.nodes().stream().filter(n -> n.op() instanceof ActConv2d a && a.depthwise()).count();
        // Note [Activation into a dense convolution]: every projection after a ReLU6 (17 blocks, the first has no expansion)
        assertTrue(f.nodes().stream().filter(n -> n.op() instanceof ActConv2d a && !a.depthwise()).count() >= 16);
        // 17 blocks; at width 0.25 block 1 is residual (8 -> 8 channels), so the stem's ReLU6 output is
        // also read by the add and must exist: that one depthwise conv stays unfused
        assertEquals(16, fusedDw);
        for (Node n : f.nodes()) {
            if (n.op() instanceof Conv2d c && c.groups() > 1) {
                Value in = n.input(0);
                assertTrue(in.producer().op() instanceof Activation && in.users().size() > 1, n.toString());
            }
        }
        // γ of a layer left stock
        Node firstBn = g.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.TRAIN).findFirst().orElseThrow();
        Graph guarded = StepPasses.FUSED.withStockBatchNorm(Set.of(firstBn.input(1).variable())).beforeAutograd(g).graph();
        assertEquals(stockBn + 1, guarded.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.TRAIN).count());
    }

    @Test
    void recomputedValuesAreMadeRightBeforeBackwardReadsThem() {
        Graph plain = new TrainGraph(new DeepLabV3Plus(TINY), 2, 64, 64, OptimizerSettings.pytorchDefault(), 1,
                StepPasses.FUSED).stepGraph();
        List<Node> recompute = plain.nodes().stream().filter(n -> n.phase() == Phase.RECOMPUTE).toList();
        assertFalse(recompute.isEmpty());
        for (Node n : recompute) {
            Value v = n.output(0);
            assertTrue(v.users().stream().allMatch(u -> u.phase().backwardSide()), "only backward reads " + v);
            int firstUse = v.users().stream().mapToInt(Node::index).min().orElseThrow();
            // nothing but other recomputations between the copy and its first reader
            for (int i = n.index() + 1; i < firstUse; i++) {
                assertEquals(Phase.RECOMPUTE, plain.nodes().get(i).phase());
            }
            assertTrue(RecomputeCheapOps.cheap(n.op()) || RecomputeCheapOps.depthwise(n)
                    || (mode(n) == BatchNorm.Mode.REPLAY && RecomputeCheapOps.depthwise(n.input(0).producer())), n.toString());
        }
    }

    /**
     * Note [BN through a depthwise replay] on Xception-65 (the separable convs) and MobileNetV2: every
     * training BN right after a depthwise conv is replayed with it in backward, no dense conv is ever
     * recomputed, and the replayed depthwise convs read only what backward keeps anyway.
     */
    @Test
    void batchNormAfterADepthwiseConvIsReplayedWithItAndNoDenseConvIs() {
        for (ModelConfig m : List.of(TINY, ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withMiddleRepeats(2).withClasses(4))) {
            Graph step = new TrainGraph(new DeepLabV3Plus(m), 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED)
                    .stepGraph();
            long bnAfterDepthwise = step.nodes().stream().filter(n -> n.phase() == Phase.FORWARD && mode(n) == BatchNorm.Mode.TRAIN_IN_PLACE
                    && RecomputeCheapOps.depthwise(n.input(0).producer())).count();
            long replays = step.nodes().stream().filter(n -> mode(n) == BatchNorm.Mode.REPLAY).count();
            assertTrue(bnAfterDepthwise > 0, m.name());
            assertEquals(bnAfterDepthwise, replays, m.name() + ": one replay per BN after a depthwise conv");
            for (Node n : step.nodes()) {
                if (n.phase() == Phase.RECOMPUTE && n.op() instanceof Conv2d) {
                    assertTrue(RecomputeCheapOps.depthwise(n), m.name() + ": dense conv recomputed: " + n);
                }
                if (n.phase() == Phase.RECOMPUTE && RecomputeCheapOps.depthwise(n)) {
                    Value in = n.input(0);
                    assertTrue(in.producer().phase() == Phase.RECOMPUTE
                            || in.users().stream().anyMatch(u -> u.phase() == Phase.BACKWARD), "kept anyway: " + in);
                }
            }
        }
    }

    /**
     * Every op of a fused training step (MobileNetV2 and Xception65 backbones) has a CUDA binding in the op
     * table: the precondition for StepPasses.forBackend("cuda") returning FUSED (the kernels' GPU parity is
     * CudaOpsParityTest's and CudaTrainStepTest's, tagged gpu).
     */
    @Test
    void everyFusedStepOpHasACudaKernel() {
        for (ModelConfig m : List.of(TINY, ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withClasses(4))) {
            Graph step = new TrainGraph(new DeepLabV3Plus(m), 1, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED)
                    .stepGraph();
            assertTrue(step.nodes().stream().anyMatch(n -> n.op() instanceof ActConv2d), m + " has fused ops");
            for (Node n : step.nodes()) {
                // the native-only rewrites (Note [Activation into a dense convolution]) have no CUDA kernel, and CUDA's step never has them
                boolean gated = StepPasses.NATIVE_ONLY_OPS.stream().anyMatch(o -> o.getClass() == n.op().getClass())
                        && !StepPasses.forDevice(org.leanseg.ops.Device.CUDA).nativeOnly();
                assertTrue(gated || Ops.cell(org.leanseg.ops.Device.CUDA, n.op()) != null, n.op().name() + " has no CUDA kernel");
            }
        }
    }

    /** The BatchNorm mode of a node's op, or null when it is no BatchNorm. */
    private static BatchNorm.Mode mode(Node n) {
        return n.op() instanceof BatchNorm bn ? bn.mode() : null;
    }
}
