package org.leanseg.backend.cuda;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * First-look timing of full training steps on the CUDA backend (not a test: timings stay out of
 * tests): DeepLabV3+ at batch x 3 x size x size, median of timed steps after warm-up, plus the plan's
 * arena and the backend's device bytes. Args: model batch size warmup steps tf32(true|false) deterministic(true|false, default false: cudnnFind).
 * {@code java -cp ... org.leanseg.backend.cuda.CudaStepBench deeplabv3plus_mobilenetv2 2 512 3 10 false}
 */
public final class CudaStepBench {
    private CudaStepBench() {
    }

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "deeplabv3plus_mobilenetv2";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int size = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        boolean tf32 = args.length > 5 && Boolean.parseBoolean(args[5]);
        boolean deterministic = args.length > 6 && Boolean.parseBoolean(args[6]);
        boolean graphs = args.length <= 7 || Boolean.parseBoolean(args[7]);   // Note [Whole-step graphs]
        DeepLabV3Plus model = new DeepLabV3Plus(ModelConfig.of(name));
        VariableStore store = new VariableStore();
        model.params().initialize(store, 1);
        TrainGraph tg = new TrainGraph(model, n, size, size, OptimizerSettings.pytorchDefault(), 1,
                org.leanseg.graph.passes.StepPasses.NONE);
        Random rnd = new Random(2);
        Tensor image = Tensor.gaussian(Shape.of(n, 3, size, size), 1, rnd);
        int[] labels = new int[n * size * size];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(21);
        }
        Map<org.leanseg.graph.Value, Tensor> feeds = Map.of(tg.image(), image, tg.label(), Tensor.labels(Shape.of(n, size, size), labels),
                tg.lr(), Tensor.of(Shape.of(1), 0.01f));
        try (CudaBackend gpu = new CudaBackend(new CudaBackend.Options(tf32, CudaBackend.WORKSPACE_LIMIT, deterministic, graphs));
             Executor ex = new Executor(tg.stepGraph(), gpu, store)) {
            double[] ms = new double[steps];
            float loss = 0;
            for (int s = 0; s < warmup + steps; s++) {
                long t0 = System.nanoTime();
                ex.run(feeds);   // ends with a stream synchronize
                if (s >= warmup) {
                    ms[s - warmup] = (System.nanoTime() - t0) / 1e6;
                }
                loss = ex.read(tg.loss()).data()[0];
            }
            Arrays.sort(ms);
            long[] mem = gpu.memGetInfo();
            System.out.printf("%s batch %d %dx%d tf32=%s deterministic=%s graphs=%s (%s): median %.2f ms/step (min %.2f, max %.2f) over %d steps, last loss %.4f,"
                    + " plan arena %.1f MiB, backend peak %.1f MiB, device used %.1f MiB%n", name, n, size, size, tf32, deterministic, graphs, ex.stepGraphStatus(), ms[steps / 2],
                    ms[0], ms[steps - 1], steps, loss, ex.plan().arenaBytes() / 1048576.0, gpu.peakBytes() / 1048576.0,
                    (mem[1] - mem[0]) / 1048576.0);
        }
    }
}
