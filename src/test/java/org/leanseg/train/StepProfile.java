package org.leanseg.train;

import java.util.Map;
import java.util.Random;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Manual tool (not a test): per-op time of the default training step. Run with the test classpath:
 * {@code StepProfile [batch=8] [size=128] [warmup=30] [steps=20]}.
 */
public final class StepProfile {
    public static void main(String[] args) {
        ModelConfig mc = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withHead(new int[] {2, 4, 6}, 64, 24, 64).withClasses(6);
        DeepLabV3Plus m = new DeepLabV3Plus(mc);
        int b = Integer.parseInt(args.length > 0 ? args[0] : "8");
        int s = Integer.parseInt(args.length > 1 ? args[1] : "128");
        TrainGraph tg = new TrainGraph(m, b, s, s, OptimizerSettings.pytorchDefault(), 1);
        VariableStore store = new VariableStore();
        m.params().initialize(store, 1);
        Random rnd = new Random(1);
        int[] labels = new int[b * s * s];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(6);
        }
        try (Executor ex = new Executor(tg.stepGraph(), new ReferenceBackend(), store)) {
            Map<org.leanseg.graph.Value, Tensor> feeds = Map.of(tg.image(), Tensor.gaussian(Shape.of(b, 3, s, s), 1, rnd),
                    tg.label(), Tensor.labels(Shape.of(b, s, s), labels), tg.lr(), Tensor.of(Shape.of(1), 0.01f));
            int warmup = Integer.parseInt(args.length > 2 ? args[2] : "30");   // C2 compiles the kernels within ~20 steps
            for (int i = 0; i < warmup; i++) {
                ex.run(feeds);
            }
            long t = System.nanoTime();
            int steps = Integer.parseInt(args.length > 3 ? args[3] : "20");
            for (int i = 0; i < steps; i++) {
                ex.run(feeds);
            }
            double ms = (System.nanoTime() - t) / 1e6 / steps;
            System.out.printf("step %.1f ms, %.1f img/s, arena %.1f MiB%n", ms, b * 1000 / ms, ex.plan().arenaBytes() / 1048576.0);
            ex.opTimes().entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]))
                    .forEach(e -> System.out.printf("%-32s %8.1f ms/step %5d calls%n", e.getKey(), e.getValue()[0] / 1e6 / (steps + warmup), e.getValue()[1] / (steps + warmup)));
        }
    }
}
