package org.leanseg.bench;

import java.util.concurrent.TimeUnit;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.TrainingConfig;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.Measured;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One SGD training step of a default configuration on the reference backend, as {@code leanseg
 * profile} runs it: the score is the step time; the secondary metrics (JMH {@code @AuxCounters},
 * in bytes, see {@link Bytes}) are the planned peak, the measured high-water of the last step
 * (arena + variables + the largest op's heap scratch), the activation arena and its lower bound,
 * the bytes saved for backward, and the recompute FLOPs (not bytes) of the plan.
 * <ul>
 *   <li>{@code config=mobilenetv2}: DeepLabV3+ MobileNetV2, full width, 21 classes, output stride
 *       16 ({@code ModelConfig.of("deeplabv3plus_mobilenetv2")});</li>
 *   <li>{@code config=cpu_default}: the model of {@code TrainingConfig.defaults()} ({@code leanseg
 *       train} with no arguments: width 0.5, ASPP 64 channels, 6 classes).</li>
 * </ul>
 * {@code fuse}: the default rewrites or {@code --no-fuse}; {@code recompute}: the recompute policy
 * ({@code none}, {@code stages}, {@code sqrt}; {@code leanseg profile --recompute}).
 * {@code batch}/{@code size} 0 take the configuration's own: batch 2 at 128x128 for mobilenetv2 (a
 * CPU-sized stand-in for 512x512), batch 16 at 64x64 for cpu_default (its training batch).
 * Run: {@code java -jar benchmarks/target/benchmarks.jar MemoryBenchmark -wi 1 -i 2 -f 1}; one
 * configuration per policy, small: {@code ... MemoryBenchmark -p config=mobilenetv2 -p fuse=true -p size=64}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "-Xmx6g")
@State(Scope.Benchmark)
public class MemoryBenchmark {
    @Param({"mobilenetv2", "cpu_default"})
    public String config;

    @Param({"true", "false"})
    public boolean fuse;

    @Param({"none", "stages", "sqrt"})
    public String recompute;

    @Param({"0"})
    public int batch;

    @Param({"0"})
    public int size;

    private StepPlan plan;
    private StepProfiler.Session session;

    /**
     * Secondary metrics in bytes. JMH adds EVENTS counters up over all measurement iterations (and
     * forks) and has no gauge type, so each iteration reports its last step's bytes divided by the
     * number of measurement iterations times forks: the sum JMH prints is then the step's bytes.
     * (The per-iteration min/avg/max lines JMH prints below it are those shares, not bytes.)
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Bytes {
        public double plannedPeakBytes;
        public double measuredPeakBytes;
        public double arenaBytes;
        public double lowerBoundBytes;
        public double savedForBackwardBytes;
        public double recomputeFlops;
        private double share;

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            share = 1.0 / (params.getMeasurement().getCount() * Math.max(1, params.getForks()));
        }

        void set(StepPlan plan, Measured.Step step) {
            plannedPeakBytes = share * plan.report().plannedPeakBytes();
            measuredPeakBytes = share * step.highWaterBytes();
            arenaBytes = share * plan.report().activationPeakBytes();
            lowerBoundBytes = share * plan.report().lowerBoundBytes();
            savedForBackwardBytes = share * plan.report().savedForBackwardBytes();
            recomputeFlops = share * plan.report().recomputeFlops();
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        ModelConfig model;
        int b;
        int s;
        switch (config) {
            case "mobilenetv2" -> {
                model = ModelConfig.of("deeplabv3plus_mobilenetv2");
                b = 2;
                s = 128;
            }
            case "cpu_default" -> {
                TrainingConfig c = TrainingConfig.defaults();
                var m = c.model();
                model = ModelConfig.of(m.name().yamlName()).withWidth(m.width()).withOutputStride(m.outputStride())
                        .withClasses(m.numClasses()).withHead(m.atrousRates().stream().mapToInt(Integer::intValue).toArray(),
                                m.asppChannels(), m.lowLevelChannels(), m.decoderChannels());
                b = c.train().batch().value();
                s = c.data().cropSize().height();
            }
            default -> throw new IllegalArgumentException("unknown config " + config);
        }
        plan = StepPlan.of(model, batch > 0 ? batch : b, size > 0 ? size : s, size > 0 ? size : s,
                (fuse ? StepPasses.FUSED : StepPasses.NONE).withRecompute(RecomputePolicy.parse(recompute)));
        session = StepProfiler.open(plan, new ReferenceBackend(), 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
    }

    @Benchmark
    public float step(Bytes bytes) {
        Measured.Step s = session.step();
        bytes.set(plan, s);
        return s.loss();
    }
}
