package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.MemoryReport;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.StepPlan;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * The step {@code leanseg plan} and {@code profile} plan ({@link StepPlan}) is the step the
 * trainer's executor allocates: its planned arena and persistent bytes are what a
 * {@link StepRunner} on the reference backend allocates for the same step, with and without the
 * fusion passes. Before the one step builder, StepPlan aliased in place only with fused passes
 * while the executor always did, so with {@link StepPasses#NONE} plan reported a larger arena than
 * training allocates.
 * Check: {@code mvn -B -q test -Dtest=PlanMatchesTrainerTest}.
 */
class PlanMatchesTrainerTest {
    static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(3);
    static final int BATCH = 2;
    static final int SIZE = 32;

    /** What one training step of the trainer's runner allocated: {arena, variables}. */
    static long[] trainerAllocates(StepPasses passes) {
        DeepLabV3Plus model = new DeepLabV3Plus(TINY);
        VariableStore store = new VariableStore();
        model.params().initialize(store, 1);
        List<String> log = new ArrayList<>();
        try (ReferenceBackend ref = new ReferenceBackend();
             StepRunner runner = new StepRunner(model, BATCH, SIZE, SIZE, OptimizerSettings.pytorchDefault(), 1, ref, store, passes,
                     null, log::add)) {
            Random rnd = new Random(3);
            int[] labels = new int[BATCH * SIZE * SIZE];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = rnd.nextInt(TINY.numClasses());
            }
            runner.micro(Tensor.gaussian(Shape.of(BATCH, 3, SIZE, SIZE), 1, rnd), Tensor.labels(Shape.of(BATCH, SIZE, SIZE), labels),
                    0.01f, 1);
            assertEquals(List.of(), log, "no rebuild (in-place BN guard) in this step");
            return new long[] {ref.arenaBytes(), ref.variableBytes()};
        }
    }

    @Test
    void planOfTheUnfusedStepIsWhatTheTrainerAllocates() {
        check(StepPasses.NONE);
    }

    @Test
    void planOfTheFusedStepIsWhatTheTrainerAllocates() {
        check(StepPasses.FUSED);
    }

    private static void check(StepPasses passes) {
        MemoryReport planned = StepPlan.of(TINY, BATCH, SIZE, SIZE, passes).report();
        long[] allocated = trainerAllocates(passes);
        assertEquals(planned.activationPeakBytes(), allocated[0], "arena, passes fuse=" + passes.fuse());
        assertEquals(planned.persistentBytes(), allocated[1], "variables, passes fuse=" + passes.fuse());
    }
}
