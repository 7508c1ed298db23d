package org.leanseg.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.Step;
import org.leanseg.train.StepBuilder;

/**
 * Note [Whole-step graphs], the executor's bookkeeping on the reference backend's emulation of capture
 * (kernels recorded, not run, while capturing; replayed on the same views at each launch): four SGD steps
 * with a new batch and learning rate each train bit for bit as launching op by op (feeds go into their
 * buffers outside the graph, the optimizer's updates and BN statistics happen inside it); the first run
 * is never captured, the second is and nothing of it runs during capture; an observer (per-op timing)
 * keeps steps op by op. Run: {@code mvn -q test -Dtest=StepGraphTest}.
 */
class StepGraphTest {
    private static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(4);
    private static final int N = 2;
    private static final int H = 32;

    private record Run(List<Float> losses, Map<String, Tensor> variables, List<String> statuses) {
    }

    private static Run train(Backend backend, Executor.Options options) {
        DeepLabV3Plus model = new DeepLabV3Plus(TINY);
        VariableStore store = new VariableStore();
        model.params().initialize(store, 5);
        Step s = StepBuilder.training(model, N, H, H).optimizer(new OptimizerSettings(0.9, true, 1e-3, false, 0.5)).build();
        Random rnd = new Random(23);
        List<Float> losses = new ArrayList<>();
        List<String> statuses = new ArrayList<>();
        try (Executor e = s.executor(backend, store, options)) {
            for (int t = 1; t <= 4; t++) {
                Tensor x = Tensor.uniform(Shape.of(N, 3, H, H), -1, 1, rnd);
                int[] labels = new int[N * H * H];
                for (int i = 0; i < labels.length; i++) {
                    labels[i] = rnd.nextInt(TINY.numClasses());
                }
                OptimizerSettings opt = new OptimizerSettings(0.9, true, 1e-3, false, 0.5);
                e.run(Map.of(s.train().image(), x, s.train().label(), Tensor.labels(Shape.of(N, H, H), labels),
                        s.train().lr(), Tensor.of(Shape.of(opt.hyperSize()), opt.hyper(0.02 * t, t))));
                losses.add(e.read(s.train().loss()).data()[0]);
                statuses.add(e.stepGraphStatus());
            }
        }
        return new Run(losses, store.byName(), statuses);
    }

    @Test
    void replayedStepsTrainBitForBitAsOpByOp() {
        Run eager = train(new ReferenceBackend(), Executor.Options.defaults());
        Run graphs = train(ReferenceBackend.withStepGraphEmulation(), Executor.Options.defaults());
        assertEquals(eager.losses(), graphs.losses());
        eager.variables().forEach((k, v) -> assertArrayEquals(v.data(), graphs.variables().get(k).data(), k));
        assertTrue(eager.losses().get(3) != eager.losses().get(1), "the feeds change from step to step: " + eager.losses());
        assertTrue(graphs.statuses().get(0).contains("first run is never captured"), graphs.statuses().get(0));
        for (int t = 1; t < 4; t++) {
            assertTrue(graphs.statuses().get(t).startsWith("captured at run 2"), graphs.statuses().get(t));
        }
        assertTrue(eager.statuses().get(3).contains("reference backend runs its ops from Java"), eager.statuses().get(3));
    }

    @Test
    void captureRecordsTheWholeStepWithoutRunningIt() {
        ReferenceBackend b = ReferenceBackend.withStepGraphEmulation();
        int[] recorded = {-1};
        float[] before = new float[1];
        Backend.StepGraph g = b.captureStep(() -> {
            b.run(() -> before[0] = 1f);
            b.run(() -> before[0] += 2f);
            recorded[0] = b.recordingSize();
        });
        assertEquals(2, recorded[0]);
        assertEquals(0f, before[0], "nothing ran while capturing");
        g.launch();
        assertEquals(3f, before[0]);
        g.launch();
        assertEquals(3f, before[0], "each launch replays the same kernels");
        g.close();
    }

    @Test
    void anObserverKeepsStepsOpByOp() {
        int[] ops = {0};
        Run observed = train(ReferenceBackend.withStepGraphEmulation(), new Executor.Options(false, (step, node, nanos) -> ops[0]++));
        assertTrue(observed.statuses().get(3).contains("per-op timing"), observed.statuses().get(3));
        assertTrue(ops[0] > 4 * 100, "every op of every step was observed: " + ops[0]);
    }
}
