package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainConfig;
import org.leanseg.config.TrainingConfig;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;

/** train.batch=auto picks the largest batch whose plan fits train.memory_budget, and says why; bad combinations fail clearly. */
class StepMemoryTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(3);

    private static TrainConfig train(String... sets) {
        return TrainingConfig.load(null, List.of(sets)).train();
    }

    private static long peak(int batch, RecomputePolicy p) {
        return StepMemory.plan(TINY, batch, 32, 32, OptimizerSettings.pytorchDefault(), 1, StepPasses.FUSED.withRecompute(p))
                .plannedPeakBytes();
    }

    @Test
    void autoBatchIsTheLargestThatFitsAndTheLineSaysWhy() {
        long budget = (peak(5, RecomputePolicy.stages()) + peak(6, RecomputePolicy.stages())) / 2;
        TrainConfig tc = train("train.batch=auto", "train.memory_budget=" + budget, "train.recompute=stages");
        StepMemory.Choice c = StepMemory.batch(tc, TINY, 32, 32, OptimizerSettings.pytorchDefault(), StepPasses.FUSED);
        assertEquals(5, c.batch());
        assertTrue(c.line().contains("batch 5") && c.line().contains("batch 6 would need") && c.line().contains("train.memory_budget")
                && c.line().contains("recompute stages"), c.line());
        // against the unfused step: at this tiny size fused none (depthwise replays, Note [BN through a
        // depthwise replay]) keeps about what stages keeps
        TrainConfig none = train("train.batch=auto", "train.memory_budget=" + budget);
        assertTrue(StepMemory.batch(none, TINY, 32, 32, OptimizerSettings.pytorchDefault(), StepPasses.NONE).batch() < 5,
                "recomputing fits a larger batch");
    }

    @Test
    void autoWithoutBudgetAndBatchesOverBudgetNameTheKeys(@TempDir Path dir) {
        ConfigException noBudget = assertThrows(ConfigException.class, () -> StepMemory.batch(train("train.batch=auto"), TINY, 32, 32,
                OptimizerSettings.pytorchDefault(), StepPasses.FUSED));
        assertTrue(noBudget.getMessage().contains("train.batch") && noBudget.getMessage().contains("train.memory_budget"), noBudget.getMessage());
        ConfigException trainer = assertThrows(ConfigException.class, () -> new Trainer(ResumeTest.small(dir, "x", "train.batch=auto"),
                ResumeTest.quiet(), false).run(null, null, false));
        assertTrue(trainer.getMessage().contains("train.memory_budget"), trainer.getMessage());

        ConfigException tooBig = assertThrows(ConfigException.class, () -> StepMemory.batch(
                train("train.batch=64", "train.memory_budget=1MiB"), TINY, 32, 32, OptimizerSettings.pytorchDefault(), StepPasses.FUSED));
        assertTrue(tooBig.getMessage().contains("train.batch: 64") && tooBig.getMessage().contains("train.memory_budget 1MiB"),
                tooBig.getMessage());
        ConfigException nothing = assertThrows(ConfigException.class, () -> StepMemory.batch(
                train("train.batch=auto", "train.memory_budget=1MiB"), TINY, 32, 32, OptimizerSettings.pytorchDefault(), StepPasses.FUSED));
        assertTrue(nothing.getMessage().contains("batch 1 needs"), nothing.getMessage());
    }
}
