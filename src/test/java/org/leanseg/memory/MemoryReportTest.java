package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.StageGroups;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.ops.elementwise.Fill;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/** The memory report as data: hand-made graphs with known answers, and a tiny training step. */
class MemoryReportTest {
    @Test
    void savedForBackwardCountsForwardValuesThatBackwardReads() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(1, 2, 8, 8));
        Value w = g.variable(new Variable("w", TensorSpec.f32(2, 2, 3, 3), Role.PARAMETER));
        Value y;
        Value z;
        try (var s = g.scope("backbone"); var b = g.scope("features"); var c = g.scope("1")) {
            y = g.apply1(Activation.relu(), g.apply1(Conv2d.of(1, 1, 1, 1), x, w)); // conv out: forward only
        }
        try (var s = g.scope("decoder")) {
            z = g.apply1(new Scale(2f), y); // read by nothing in backward
        }
        Value dx;
        try (var ph = g.phase(Phase.BACKWARD); var s = g.stage("backbone.features.1")) {
            Value seed = g.apply1(new Fill(y.spec(), 1f));
            dx = g.apply1(new ActivationBackward(Activation.Kind.RELU), y, seed);
        }
        g.markOutput(z);
        g.markOutput(dx);
        List<Node> schedule = DeadCode.schedule(g);
        MemoryReport r = MemoryReport.of(g, schedule, Planner.plan(g, schedule));
        assertEquals(y.bytes(), r.savedForBackwardBytes(), "only the ReLU output crosses into backward");
        assertEquals(w.bytes(), r.persistent().weightsBytes());
        assertEquals(0, r.persistent().optimizerStateBytes());
        assertEquals(2L * 2 * 2 * 9 * 64 + 2 * 64 + 2 * 64, r.forwardFlops(), "conv + relu + scale");
        MemoryReport.Stage stage = r.stages().get(0);
        assertEquals("backbone.features.1", stage.name());
        assertEquals(y.bytes(), stage.savedForBackwardBytes());
        assertEquals(r.activationPeakBytes() + r.persistentBytes() + r.workspaceBytes(), r.plannedPeakBytes());
        assertEquals(0, r.workspaceBytes(), "a forward conv packs im2col on the fly");
    }

    @Test
    void stageGroupsAtBlockDepth() {
        assertEquals("backbone.stem", StageGroups.group("backbone.stem"));
        assertEquals("backbone.features.3", StageGroups.group("backbone.features.3"));
        assertEquals("backbone.blocks.12", StageGroups.group("backbone.blocks.12.rep.2"));
        assertEquals("aspp", StageGroups.group("aspp.convs.4"));
        assertEquals("loss", StageGroups.group("loss"));
        assertEquals("input", StageGroups.group(""));
    }

    @Test
    void tinyTrainingStepAddsUp() {
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withClasses(3);
        DeepLabV3Plus model = new DeepLabV3Plus(cfg);
        TrainGraph tg = new TrainGraph(model, 1, 64, 64, OptimizerSettings.pytorchDefault(), 1);
        Graph g = tg.stepGraph();
        List<Node> schedule = DeadCode.schedule(g);
        MemoryPlan plan = Planner.plan(g, schedule);
        MemoryReport r = MemoryReport.of(g, schedule, plan);
        long params = 0;
        long buffers = 0;
        for (ParamSet.Entry e : model.params().entries()) {
            if (e.variable().role() == Role.PARAMETER) {
                params += e.variable().spec().bytes();
            } else if (!e.variable().name().endsWith("num_batches_tracked")) {
                buffers += e.variable().spec().bytes(); // the trainer counts batches outside the graph
            }
        }
        assertEquals(params, r.persistent().weightsBytes());
        assertEquals(params, r.persistent().optimizerStateBytes(), "one momentum per parameter");
        assertEquals(buffers, r.persistent().buffersBytes());
        assertEquals(r.savedForBackwardBytes(), r.stages().stream().mapToLong(MemoryReport.Stage::savedForBackwardBytes).sum());
        long maxStagePeak = r.stages().stream().mapToLong(MemoryReport.Stage::peakBytes).max().orElseThrow();
        assertEquals(r.lowerBoundBytes(), maxStagePeak, "every op belongs to a stage");
        assertTrue(r.activationPeakBytes() >= r.lowerBoundBytes());
        assertTrue(r.savedForBackwardBytes() > 0 && r.savedForBackwardBytes() < r.lowerBoundBytes());
        assertTrue(r.workspaceBytes() > 0, "3x3 convolutions' backward data uses a column buffer");
        assertEquals(List.of("backbone.stem", "backbone.features.1"), r.stages().stream().limit(2).map(MemoryReport.Stage::name).toList());
    }
}
