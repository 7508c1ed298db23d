package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.DistillConfig;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Workspace;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The distilled training step (Note [Distillation loss]): the teacher runs forward only as its own
 * stage, its peak adds at most its inference peak to the student's, its weights and statistics are
 * left alone, the loss is the same under every recompute policy, and distillation changes the update.
 * Check: {@code mvn -B -q test -Dtest=DistillationStepTest}.
 */
class DistillationStepTest {
    private static final ModelConfig STUDENT = PlanMatchesTrainerTest.TINY;
    /** A wider teacher of the same classes. */
    private static final ModelConfig TEACHER = STUDENT.withWidth(0.5);
    private static final int BATCH = 2;
    private static final int SIZE = 32;

    private static Distillation distill(DeepLabV3Plus teacher, DistillConfig.Kind kind) {
        return Distillation.of(teacher, new DistillConfig("teacher.safetensors", 2.0, 0.5, kind));
    }

    private static Step step(DeepLabV3Plus student, Distillation d, StepPasses passes) {
        return StepBuilder.training(student, BATCH, SIZE, SIZE).passes(passes).distill(d).build();
    }

    /** The teacher's eval forward alone, planned: its inference peak (weights and buffers included). */
    private static long teacherInferencePeak(DeepLabV3Plus teacher) {
        Graph g = new Graph();
        Value image = g.input("image", TensorSpec.f32(BATCH, 3, SIZE, SIZE));
        g.markOutput(teacher.forward(new Trace(g, false), image).logits());
        return GraphPlan.of(g, Workspace.OP).report().plannedPeakBytes();
    }

    @Test
    void plannedPeakIsAtMostStudentTrainingPlusTeacherInferenceAndTheTeacherIsItsOwnForwardOnlyStage() {
        DeepLabV3Plus teacher = new DeepLabV3Plus(TEACHER);
        long teacherPeak = teacherInferencePeak(teacher);
        for (StepPasses passes : List.of(StepPasses.FUSED, StepPasses.NONE)) {
            long studentPeak = step(new DeepLabV3Plus(STUDENT), null, passes).report().plannedPeakBytes();
            for (DistillConfig.Kind kind : DistillConfig.Kind.values()) {
                Step s = step(new DeepLabV3Plus(STUDENT), distill(teacher, kind), passes);
                MemoryReport r = s.report();
                String what = kind + (passes.fuse() ? " fused" : " plain");
                assertTrue(r.plannedPeakBytes() > studentPeak, what + ": the teacher costs memory");
                assertTrue(r.plannedPeakBytes() <= studentPeak + teacherPeak, what + ": planned " + r.plannedPeakBytes()
                        + " > student " + studentPeak + " + teacher inference " + teacherPeak);
                MemoryReport.Stage stage = r.stages().stream().filter(st -> st.name().equals(Distillation.STAGE)).findFirst().orElseThrow();
                assertTrue(stage.forwardFlops() > 0 && stage.peakBytes() > 0, what + ": " + stage);
                long teacherNodes = 0;
                for (Node n : s.schedule()) {
                    if (n.stage().startsWith(Distillation.STAGE)) {
                        teacherNodes++;
                        assertTrue(n.phase() == Phase.FORWARD || n.phase() == Phase.RECOMPUTE, what + ": teacher op in " + n.phase() + ": " + n);
                    }
                }
                assertTrue(teacherNodes > 20, what + ": the teacher's forward is in the step");
                // only the compared logits (stride 4 for channel, full size for pixel) stay for the loss's backward
                long logitsBytes = 4L * BATCH * STUDENT.numClasses() * SIZE * SIZE;
                assertTrue(stage.savedForBackwardBytes() <= logitsBytes, what + ": teacher keeps " + stage.savedForBackwardBytes());
            }
        }
    }

    private static Map<Value, Tensor> feeds(Step s, Random rnd) {
        int[] labels = new int[BATCH * SIZE * SIZE];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(8) == 0 ? TrainGraph.IGNORE_INDEX : rnd.nextInt(STUDENT.numClasses());
        }
        Map<Value, Tensor> f = new HashMap<>();
        f.put(s.train().image(), Tensor.gaussian(Shape.of(BATCH, 3, SIZE, SIZE), 1, rnd));
        f.put(s.train().label(), Tensor.labels(Shape.of(BATCH, SIZE, SIZE), labels));
        float[] hyper = OptimizerSettings.pytorchDefault().hyper(0.05, 1);
        f.put(s.train().lr(), Tensor.of(Shape.of(hyper.length), hyper));
        return f;
    }

    /** One step from the same weights and batch; returns the loss and leaves the updated weights in the store. */
    private static float run(Step s, VariableStore store) {
        try (Executor ex = s.executor(new ReferenceBackend(), store, Executor.Options.defaults())) {
            ex.run(feeds(s, new Random(7)));
            ex.syncVariables();
            return ex.read(s.train().loss()).data()[0];
        }
    }

    private static VariableStore weights(DeepLabV3Plus student, DeepLabV3Plus teacher) {
        VariableStore store = new VariableStore();
        student.params().initialize(store, 1);
        if (teacher != null) {
            teacher.params().initialize(store, 2);
        }
        return store;
    }

    @Test
    void teacherIsLeftAloneLossesAgreeUnderRecomputeAndDistillationChangesTheUpdate() {
        for (DistillConfig.Kind kind : DistillConfig.Kind.values()) {
            DeepLabV3Plus student = new DeepLabV3Plus(STUDENT);
            DeepLabV3Plus teacher = new DeepLabV3Plus(TEACHER);
            Distillation d = distill(teacher, kind);
            VariableStore plainStore = weights(student, null);
            float plain = run(step(student, null, StepPasses.FUSED), plainStore);

            float none = Float.NaN;
            VariableStore noneStore = null;
            for (RecomputePolicy policy : List.of(RecomputePolicy.none(), RecomputePolicy.stages(), RecomputePolicy.sqrt())) {
                VariableStore store = weights(student, teacher);
                VariableStore teacherBefore = weights(new DeepLabV3Plus(STUDENT), teacher);
                float loss = run(step(student, d, StepPasses.FUSED.withRecompute(policy)), store);
                for (ParamSet.Entry e : teacher.params().entries()) {
                    assertArrayEquals(teacherBefore.get(e.variable()).data(), store.get(e.variable()).data(),
                            kind + " " + policy + ": teacher " + e.variable().name() + " changed");
                }
                if (noneStore == null) {
                    none = loss;
                    noneStore = store;
                } else {
                    assertEquals(none, loss, kind + " " + policy + ": loss differs from none");
                }
            }
            assertTrue(none > plain, kind + ": distilled loss " + none + " adds the KD term to " + plain);
            boolean changed = false;
            for (ParamSet.Entry e : student.params().entries()) {
                changed |= !java.util.Arrays.equals(plainStore.get(e.variable()).data(), noneStore.get(e.variable()).data());
            }
            assertTrue(changed, kind + ": distillation changes the student's update");
            assertFalse(Float.isNaN(none));
        }
    }

    /** A 16-bit distilled step is refused with the key and the fix: the KL op takes f32 logits (Note [Mixed precision]). */
    @Test
    void sixteenBitDistilledStepIsRefusedByName() {
        for (Precision p : List.of(Precision.BF16, Precision.FP16)) {
            org.leanseg.config.ConfigException e = assertThrows(org.leanseg.config.ConfigException.class,
                    () -> StepBuilder.training(new DeepLabV3Plus(STUDENT), BATCH, SIZE, SIZE).precision(p)
                            .distill(distill(new DeepLabV3Plus(TEACHER), DistillConfig.Kind.PIXEL)).build());
            assertTrue(e.getMessage().startsWith("train.distill: ") && e.getMessage().contains("train.precision fp32"), e.getMessage());
        }
    }
}
