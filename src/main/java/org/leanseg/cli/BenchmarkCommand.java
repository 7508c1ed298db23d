package org.leanseg.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.data.DatasetException;
import org.leanseg.eval.Evaluator;
import org.leanseg.eval.Inference;
import org.leanseg.infer.CheckpointModel;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.Datasets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code leanseg benchmark}: inference speed of a checkpoint, as mmsegmentation's
 * {@code tools/analysis_tools/benchmark.py}: {@code --warmup} images first (graph compilation
 * and caches happen there), then the mean time per image and images/s over {@code --images}
 * images. Data loading is excluded: the images are decoded and normalised (or, with
 * {@code --size}, rendered) before timing, a pool of at most {@value #POOL} used in turn. Each
 * image runs as {@code eval} would run it (mode, flip, scales, memory budget) up to its class map.
 *
 * <pre>{@code
 * leanseg benchmark --checkpoint runs/a/best.safetensors --size 512x512 --images 200 --warmup 5
 * leanseg benchmark --checkpoint runs/a/best.safetensors --config voc.yaml --mode slide   # validation images
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=VocCommandsTest}.
 */
@Command(name = "benchmark", aliases = "bench", mixinStandardHelpOptions = true,
        description = "Time inference: mean ms per image and images/s after warm-up, data loading excluded.")
public final class BenchmarkCommand implements Callable<Integer> {
    /** At most this many distinct images are held in memory and used in turn. */
    static final int POOL = 16;

    @Mixin
    InferenceOptions opts;

    @Option(names = "--images", defaultValue = "200", description = "timed images (default: ${DEFAULT-VALUE})")
    int images;

    @Option(names = "--warmup", defaultValue = "5", description = "untimed images first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--size", description = "HxW: random images of this size (default: the validation split's images)")
    String size;

    @Option(names = "--log-interval", defaultValue = "50", description = "print progress every N timed images "
            + "(default: ${DEFAULT-VALUE})")
    int logInterval;

    @Option(names = "--engine", defaultValue = "leanseg", description = "leanseg, or onnxruntime to time the .onnx model that "
            + "--checkpoint names (ONNX Runtime CPU, whole images; default: ${DEFAULT-VALUE})")
    String engine;

    @Override
    public Integer call() {
        if (images < 1 || warmup < 0 || logInterval < 1) {
            System.err.println("leanseg benchmark: --images and --log-interval must be >= 1 and --warmup >= 0");
            return 2;
        }
        int[] hw = size == null ? null : Sizes.parse(size, "--size");
        try {
            TrainingConfig cfg = RunConfigs.load(opts, System.out::println);
            if (Engines.onnxRuntime(engine, cfg, opts.flip, "benchmark")) {
                return benchmarkOrt(cfg, hw);
            }
            CheckpointModel m = CheckpointModel.load(opts.checkpoint, Datasets.modelConfig(cfg));
            if (m.note() != null) {
                System.out.println(m.note());
            }
            List<Tensor> pool = hw != null ? rendered(hw[0], hw[1]) : validationImages(cfg);
            Inference inference = Inference.of(cfg.eval(), opts.flip);
            Backends.Choice choice = Backends.create(cfg.device().yamlName());
            System.out.println(choice.line());
            double seconds;
            String used;
            try (Backend backend = choice.backend();
                 Evaluator ev = new Evaluator(m.model(), backend, m.store(), 1, inference,
                         InferenceOptions.budget(cfg, backend, System.out::println))) {
                for (int i = 0; i < warmup; i++) {
                    ev.segment(pool.get(i % pool.size()));
                }
                seconds = timed(ev::segment, pool);
                used = ev.used();
            }
            System.out.printf("benchmark: %d images (%s) after %d warm-up, %s: %.2f ms/image, %.2f images/s%n", images,
                    hw != null ? hw[0] + "x" + hw[1] + " random" : "validation split, " + pool.size() + " distinct",
                    warmup, used, seconds * 1000 / images, images / seconds);
            return 0;
        } catch (ConfigException | IOException | DatasetException | IllegalArgumentException | IllegalStateException e) {
            CliErrors.print(System.err, "leanseg benchmark: ", e);
            return 2;
        }
    }

    /** {@code --engine onnxruntime}: the same pool and timing through ONNX Runtime's CPU session. */
    private int benchmarkOrt(TrainingConfig cfg, int[] hw) {
        List<Tensor> pool = hw != null ? rendered(hw[0], hw[1]) : validationImages(cfg);
        double seconds;
        try (org.leanseg.export.OrtModel ort = org.leanseg.export.OrtModel.open(opts.checkpoint)) {
            System.out.println("engine: onnxruntime (CPU), " + opts.checkpoint);
            for (int i = 0; i < warmup; i++) {
                ort.segment(pool.get(i % pool.size()));
            }
            seconds = timed(ort::segment, pool);
        }
        System.out.printf("benchmark: %d images (%s) after %d warm-up, onnxruntime whole: %.2f ms/image, %.2f images/s%n", images,
                hw != null ? hw[0] + "x" + hw[1] + " random" : "validation split, " + pool.size() + " distinct",
                warmup, seconds * 1000 / images, images / seconds);
        return 0;
    }

    /** Seconds for {@code images} images, each only the model and its class map (data already in memory). */
    private double timed(java.util.function.Function<Tensor, float[]> segmenter, List<Tensor> pool) {
        long t0 = System.nanoTime();
        for (int i = 0; i < images; i++) {
            segmenter.apply(pool.get((warmup + i) % pool.size()));
            int done = i + 1;
            if (done % logInterval == 0 && done < images) {
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("done image [%d/%d], %.2f images/s%n", done, images, done / s);
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Normalised-looking images (standard normal pixels), rendered before timing. */
    private List<Tensor> rendered(int h, int w) {
        SplittableRandom rnd = new SplittableRandom(0);
        List<Tensor> out = new ArrayList<>();
        for (int k = 0; k < Math.min(POOL, images + warmup); k++) {
            float[] px = new float[3 * h * w];
            for (int i = 0; i < px.length; i++) {
                px[i] = (float) gaussian(rnd);
            }
            out.add(new Tensor(TensorSpec.f32(3, h, w), px));
        }
        return out;
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = 1 - rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    /** The first validation images, decoded and normalised before timing. */
    private List<Tensor> validationImages(TrainingConfig cfg) {
        Dataset val = Datasets.val(cfg);
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < Math.min(POOL, val.size()); i++) {
            out.add(val.get(i, null).image());
        }
        return out;
    }
}
