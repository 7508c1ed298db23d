package org.leanseg.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.eval.Evaluator;
import org.leanseg.exec.VariableStore;
import org.leanseg.io.AtomicFiles;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.Measured;
import org.leanseg.profile.ProcessMemory;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import org.leanseg.tensor.Precision;
import picocli.CommandLine.Option;

/**
 * {@code leanseg bench-step}: times whole training steps and eval forwards of one configuration on
 * one device, for the side-by-side benchmark against PyTorch ({@code benchmarks/cpu-vs-pytorch/}).
 * The training step is the one {@code train} and {@code profile} run on that backend
 * ({@link StepProfiler#trainerPlan}, run by a {@link StepProfiler.Session}): {@code --warmup}
 * untimed and {@code --steps} timed SGD steps on random images and labels. Then, on a fresh
 * backend, the eval-mode forward as {@code eval} builds it ({@link Evaluator#predict}: logits and
 * the argmax, whole image, batched), {@code --warmup} untimed and {@code --steps} timed. Reported:
 * per-step times (median, min, all), the planned peak, the backend's measured peak, and the growth
 * of the process's resident memory over each phase ({@link ProcessMemory}: VmHWM after minus
 * VmRSS before, the high-water mark reset first), the figure {@code torch_step.py} gives PyTorch.
 * {@code --device} goes to {@link Backends#create} unchanged, so every device it knows works here.
 *
 * <pre>{@code
 * leanseg bench-step --model deeplabv3plus_mobilenetv2 --batch 2 --size 256x256 --device cpu --warmup 2 --steps 5 --threads 2 --json
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=BenchStepCommandTest}.
 */
@Command(name = "bench-step", mixinStandardHelpOptions = true,
        description = "Time W warm-up + N training steps and N eval forwards of one model on one device (random inputs); "
                + "median/min/all step times, planned and measured peak bytes, process RSS growth; --json for JSON.")
public final class BenchStepCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--batch", defaultValue = "2", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--device", defaultValue = "auto", description = "the backend, as Backends.create knows it "
            + "(default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed steps (and eval forwards) first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--steps", defaultValue = "5", description = "timed training steps, and as many timed eval forwards "
            + "(default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--threads", description = "kernel threads (sets -Dleanseg.threads before the backend starts; default: the cores)")
    Integer threads;

    @Option(names = "--precision", converter = PrecisionConverter.class, defaultValue = "fp32", description = PrecisionConverter.DESCRIPTION)
    Precision precision;

    @Option(names = "--json", description = "print the result as JSON on stdout (progress goes to stderr)")
    boolean json;

    @Option(names = "--out", description = "also write the JSON to this file")
    Path out;

    @Option(names = "--op-times", description = "also print the wall time per op name over the timed steps (where a step's time goes)")
    boolean opTimes;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the weights and the random inputs (default: ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws IOException {
        if (batch < 1 || steps < 1 || warmup < 0 || (threads != null && threads < 1)) {
            System.err.println("leanseg bench-step: --batch, --steps and --threads must be >= 1 and --warmup >= 0");
            return 2;
        }
        int[] hw = modelOptions.size();
        ModelConfig cfg = modelOptions.config();
        if (threads != null) {
            System.setProperty("leanseg.threads", Integer.toString(threads));
        }
        PrintStream log = json ? System.err : System.out;
        Map<String, Object> result;
        try {
            Backends.Choice trainChoice = Backends.create(device);
            if (PrecisionConverter.unsupported(trainChoice.backend().name(), precision) != null) {
                trainChoice.backend().close();
                throw new IllegalArgumentException(PrecisionConverter.unsupported(trainChoice.backend().name(), precision));
            }
            log.println(trainChoice.line());
            Map<String, Object> train = train(cfg, hw, trainChoice.backend(), log);
            Map<String, Object> eval = eval(cfg, hw, Backends.create(device).backend(), log);
            result = result(cfg, hw, trainChoice, train, eval);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("leanseg bench-step: " + e.getMessage());
            return 2;
        }
        String text = jsonText(result);
        if (out != null) {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            AtomicFiles.write(out, (text + "\n").getBytes(StandardCharsets.UTF_8));
        }
        if (json) {
            System.out.println(text);
        } else {
            System.out.print(summary(result));
            if (out != null) {
                System.out.println("wrote " + out);
            }
        }
        return 0;
    }

    /** W + N training steps of the trainer's step; the RSS window spans planning, allocation and the steps. */
    private Map<String, Object> train(ModelConfig cfg, int[] hw, Backend backend, PrintStream log) {
        boolean reset = ProcessMemory.resetPeak();
        ProcessMemory.Sample before = ProcessMemory.sample();
        Map<String, Object> r = new LinkedHashMap<>();
        try (backend) {
            StepPlan plan = StepProfiler.trainerPlan(cfg, batch, hw[0], hw[1], backend, RecomputePolicy.none(), precision);
            log.printf("planned %d ops in %d ms; %d warm-up + %d timed training steps...%n", plan.schedule().size(),
                    plan.planMillis(), warmup, steps);
            String sixteenBit = backend.sixteenBitNote(precision.activations()); // Note [Mixed precision]: how 16-bit convolutions run
            if (sixteenBit != null) {
                log.println(sixteenBit);
                r.put("sixteenBitNote", sixteenBit);
            }
            double[] millis = new double[steps];
            List<Float> losses = new ArrayList<>();
            Measured m;
            try (StepProfiler.Session s = StepProfiler.open(plan, backend, seed)) {
                Map<String, long[]> atWarmupEnd = Map.of();
                for (int i = 0; i < warmup + steps; i++) {
                    if (i == warmup) {
                        atWarmupEnd = copy(s.opTimes());
                    }
                    Measured.Step step = s.step();
                    losses.add(step.loss());
                    if (i >= warmup) {
                        millis[i - warmup] = step.stepMillis();
                    }
                }
                m = s.measured();
                if (opTimes) {
                    log.print(opTable(atWarmupEnd, s.opTimes(), steps));
                }
            }
            ProcessMemory.Sample after = ProcessMemory.sample();
            r.put("backend", backend.name());
            r.putAll(times(millis));
            r.put("losses", losses);
            r.put("plannedPeakBytes", plan.report().plannedPeakBytes());
            r.put("measuredPeakBytes", backend.peakBytes());
            r.put("highWaterBytes", m.highWaterBytes());
            r.put("arenaBytes", m.arenaBytes());
            r.put("variableBytes", m.variableBytes());
            r.put("deviceRunBytes", m.deviceRunBytes());
            r.put("rss", rss(reset, before, after));
        }
        return r;
    }

    /** W + N eval forwards (logits and argmax) of freshly initialised weights on one fixed random batch. */
    private Map<String, Object> eval(ModelConfig cfg, int[] hw, Backend backend, PrintStream log) {
        boolean reset = ProcessMemory.resetPeak();
        ProcessMemory.Sample before = ProcessMemory.sample();
        Map<String, Object> r = new LinkedHashMap<>();
        try (backend) {
            DeepLabV3Plus network = new DeepLabV3Plus(cfg);
            VariableStore store = new VariableStore();
            network.params().initialize(store, seed);
            Tensor images = Tensor.gaussian(Shape.of(batch, 3, hw[0], hw[1]), 1, new Random(seed));
            log.printf("%d warm-up + %d timed eval forwards...%n", warmup, steps);
            double[] millis = new double[steps];
            try (Evaluator ev = new Evaluator(network, backend, store, batch)) {
                for (int i = 0; i < warmup + steps; i++) {
                    long t0 = System.nanoTime();
                    ev.predict(images);
                    if (i >= warmup) {
                        millis[i - warmup] = (System.nanoTime() - t0) / 1e6;
                    }
                }
            }
            ProcessMemory.Sample after = ProcessMemory.sample();
            r.put("backend", backend.name());
            r.putAll(times(millis));
            r.put("measuredPeakBytes", backend.peakBytes());
            r.put("rss", rss(reset, before, after));
        }
        return r;
    }

    private Map<String, Object> result(ModelConfig cfg, int[] hw, Backends.Choice choice, Map<String, Object> train,
                                       Map<String, Object> eval) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("peer", "leanseg");
        r.put("model", cfg.name());
        r.put("widthMultiplier", cfg.width());
        r.put("classes", cfg.numClasses());
        r.put("outputStride", cfg.outputStride());
        r.put("batch", batch);
        r.put("precision", precision.key());
        r.put("height", hw[0]);
        r.put("width", hw[1]);
        r.put("device", device);
        r.put("deviceLine", choice.line());
        r.put("threads", threads == null ? Runtime.getRuntime().availableProcessors() : threads);
        r.put("referenceThreads", Parallel.threads());
        r.put("warmup", warmup);
        r.put("steps", steps);
        r.put("seed", seed);
        r.put("java", System.getProperty("java.version"));
        r.put("train", train);
        r.put("eval", eval);
        return r;
    }

    private static Map<String, long[]> copy(Map<String, long[]> times) {
        Map<String, long[]> c = new LinkedHashMap<>();
        times.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }

    /** Per op name: ms per step and calls per step over the timed steps, the most expensive first. */
    static String opTable(Map<String, long[]> before, Map<String, long[]> after, int steps) {
        record Row(String op, double millis, long calls) { }
        List<Row> rows = new ArrayList<>();
        double total = 0;
        for (Map.Entry<String, long[]> e : after.entrySet()) {
            long[] b = before.getOrDefault(e.getKey(), new long[2]);
            double ms = (e.getValue()[0] - b[0]) / 1e6 / steps;
            rows.add(new Row(e.getKey(), ms, (e.getValue()[1] - b[1]) / steps));
            total += ms;
        }
        rows.sort((a, b) -> Double.compare(b.millis(), a.millis()));
        StringBuilder sb = new StringBuilder(String.format("  per op (ms per step, calls per step; ops total %.1f ms)%n", total));
        for (Row r : rows) {
            sb.append(String.format("    %-40s %9.2f ms %6d%n", r.op(), r.millis(), r.calls()));
        }
        return sb.toString();
    }

    /** median, min and every time of one phase. */
    static Map<String, Object> times(double[] millis) {
        double[] sorted = millis.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("medianMillis", median);
        r.put("minMillis", sorted[0]);
        r.put("millis", Arrays.stream(millis).boxed().toList());
        return r;
    }

    /** RSS before, VmHWM and VmRSS after, and the growth (-1 where /proc does not say). */
    private static Map<String, Object> rss(boolean reset, ProcessMemory.Sample before, ProcessMemory.Sample after) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("peakReset", reset);
        r.put("beforeBytes", before.rssBytes());
        r.put("hwmAfterBytes", after.hwmBytes());
        r.put("afterBytes", after.rssBytes());
        r.put("growthBytes", before.known() && after.known() ? Math.max(0, after.hwmBytes() - before.rssBytes()) : -1);
        return r;
    }

    static String jsonText(Map<String, Object> result) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static String summary(Map<String, Object> r) {
        Map<String, Object> t = (Map<String, Object>) r.get("train");
        Map<String, Object> e = (Map<String, Object>) r.get("eval");
        StringBuilder b = new StringBuilder();
        b.append(String.format("%s, batch %d, %dx%d, %s (%s threads), %d warm-up + %d timed%n", r.get("model"), r.get("batch"),
                r.get("height"), r.get("width"), t.get("backend"), r.get("threads"), r.get("warmup"), r.get("steps")));
        b.append(String.format("  train step    median %10.1f ms   min %10.1f ms   all %s%n", t.get("medianMillis"),
                t.get("minMillis"), millisList(t)));
        b.append(String.format("  eval forward  median %10.1f ms   min %10.1f ms   all %s%n", e.get("medianMillis"),
                e.get("minMillis"), millisList(e)));
        b.append(String.format("  train memory  planned peak %s, measured peak %s, RSS growth %s%n", mib(t.get("plannedPeakBytes")),
                mib(t.get("measuredPeakBytes")), mib(((Map<String, Object>) t.get("rss")).get("growthBytes"))));
        b.append(String.format("  eval memory   measured peak %s, RSS growth %s%n", mib(e.get("measuredPeakBytes")),
                mib(((Map<String, Object>) e.get("rss")).get("growthBytes"))));
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static String millisList(Map<String, Object> phase) {
        StringBuilder b = new StringBuilder("[");
        for (Object v : (List<Object>) phase.get("millis")) {
            b.append(b.length() > 1 ? ", " : "").append(String.format("%.1f", (Double) v));
        }
        return b.append("]").toString();
    }

    private static String mib(Object bytes) {
        long v = ((Number) bytes).longValue();
        return v < 0 ? "n/a" : String.format("%.1f MiB", v / (1024.0 * 1024.0));
    }
}
