package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.ConvAlgoChoice.Candidate;
import org.leanseg.config.TrainingConfig;
import org.leanseg.memory.MemoryReport;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.profile.StepPlan;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.tensor.TensorSpec;

/**
 * The cuDNN algorithm policy ({@link ConvAlgoChoice}) on made-up candidate lists, the {@code train.deterministic}
 * key that selects it, and the plan counting the cuDNN workspace limit on the cuda device (CPU only: no cuDNN
 * here; the GPU side is CudaProfileTest).
 */
class ConvAlgoChoiceTest {
    private static final long MIB = 1 << 20;
    private static final long LIMIT = 256 * MIB;

    @Test
    void deterministicTakesTheHeuristicOrderPreferringDeterministic() {
        List<Candidate> ranked = List.of(new Candidate(7, true, false, MIB, -1), new Candidate(1, false, true, 0, -1),
                new Candidate(2, true, true, 512 * MIB, -1), new Candidate(0, true, true, 0, -1));
        ConvAlgoChoice.Algo a = ConvAlgoChoice.choose("forward", ranked, LIMIT, true);
        assertEquals(0, a.algo(), "failed status and over-limit candidates skipped, first deterministic taken");
        assertTrue(a.deterministic());
        List<Candidate> noneDeterministic = List.of(new Candidate(5, true, false, MIB, -1), new Candidate(6, true, false, 0, -1));
        assertEquals(5, ConvAlgoChoice.choose("forward", noneDeterministic, LIMIT, true).algo(), "today's fallback: the first that fits");
    }

    @Test
    void timedTakesTheFastestThatFitsWhateverItsDeterminism() {
        List<Candidate> timed = List.of(new Candidate(0, true, true, 0, 3.0f), new Candidate(6, true, false, 300 * MIB, 0.5f),
                new Candidate(4, true, false, 64 * MIB, 1.25f), new Candidate(1, false, true, 0, 0.1f), new Candidate(2, true, true, MIB, 2f));
        ConvAlgoChoice.Algo a = ConvAlgoChoice.choose("backward data", timed, LIMIT, false);
        assertEquals(4, a.algo(), "over the limit (6) and failed (1) skipped; fastest of the rest");
        assertEquals(64 * MIB, a.workspaceBytes());
        assertEquals(1.25f, a.ms());
    }

    @Test
    void nothingFitsIsOneLine() {
        CudaException e = assertThrows(CudaException.class, () -> ConvAlgoChoice.choose("backward filter conv", List.of(
                new Candidate(3, true, true, 2 * LIMIT, 1f)), LIMIT, false));
        assertTrue(e.getMessage().contains("backward filter conv") && e.getMessage().contains(String.valueOf(LIMIT))
                && !e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void trainDeterministicKey() {
        assertEquals(false, TrainingConfig.load(null, List.of()).train().deterministic(), "default: timed choice");
        assertEquals(true, TrainingConfig.load(null, List.of("train.deterministic=true")).train().deterministic());
        org.leanseg.config.ConfigException e = assertThrows(org.leanseg.config.ConfigException.class,
                () -> TrainingConfig.load(null, List.of("train.deterministic=sometimes")));
        assertTrue(e.getMessage().contains("train.deterministic") && e.getMessage().contains("true or false")
                && !e.getMessage().contains("\n"), e.getMessage());
        assertEquals(true, CudaBackend.Options.forTraining(true, true).deterministic());
        assertEquals(false, CudaBackend.Options.defaults().deterministic());
    }

    @Test
    void thePlanCountsTheCudnnWorkspaceOnCuda() {
        Conv2d conv = Conv2d.of(1, 1, 1, 1);
        List<TensorSpec> in = List.of(TensorSpec.f32(2, 8, 16, 16), TensorSpec.f32(8, 8, 3, 3));
        assertEquals(CudaBackend.WORKSPACE_LIMIT, Ops.workspaceBytes(Device.CUDA, conv, in));
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withClasses(3);
        StepPlan cuda = StepPlan.of(cfg, 1, 32, 32, StepPasses.forBackend("cuda"), org.leanseg.train.OptimizerSettings.pytorchDefault(), 1,
                Device.CUDA);
        MemoryReport r = cuda.report();
        assertEquals(CudaBackend.WORKSPACE_LIMIT, r.workspaceBytes(), "one limit's worth: the largest op workspace of the step");
        assertTrue(r.plannedPeakBytes() >= r.activationPeakBytes() + r.persistentBytes() + CudaBackend.WORKSPACE_LIMIT,
                "planned peak " + r.plannedPeakBytes() + " holds the workspace");
    }
}
