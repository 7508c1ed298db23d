package org.leanseg.bench;

import java.util.concurrent.TimeUnit;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
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
 * One whole SGD training step per invocation, per backend: {@code device} goes to
 * {@link Backends#create} unchanged (any device it knows), and the step is the one the trainer runs
 * on that backend ({@link StepProfiler#trainerPlan}, run by a {@link StepProfiler.Session}), as
 * {@code leanseg bench-step} and {@code benchmarks/cpu-vs-pytorch/run.py} time it. Full-width
 * DeepLabV3+ ({@code model}), 21 classes, {@code batch} images of {@code size}x{@code size}. The
 * score is ms per step; the secondary metrics (bytes, see {@link MemoryBenchmark.Bytes} for how JMH
 * sums them) are the planned peak and the backend's measured peak.
 * Run: {@code java -jar benchmarks/target/benchmarks.jar StepBenchmark -p device=cpu -wi 1 -i 3 -f 1}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = "-Xmx8g")
@State(Scope.Benchmark)
public class StepBenchmark {
    /** Device strings as {@code --device} takes them; pass {@code -p device=cpu,reference} once both exist. */
    @Param({"cpu"})
    public String device;

    @Param({"deeplabv3plus_mobilenetv2"})
    public String model;

    @Param({"2"})
    public int batch;

    @Param({"256"})
    public int size;

    private Backend backend;
    private StepPlan plan;
    private StepProfiler.Session session;

    /** Planned and measured peak bytes of the step, as JMH EVENTS counters (shares per iteration, summed by JMH). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Bytes {
        public double plannedPeakBytes;
        public double measuredPeakBytes;
        private double share;

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            share = 1.0 / (params.getMeasurement().getCount() * Math.max(1, params.getForks()));
        }

        void set(StepPlan plan, Backend backend) {
            plannedPeakBytes = share * plan.report().plannedPeakBytes();
            measuredPeakBytes = share * backend.peakBytes();
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        Backends.Choice choice = Backends.create(device);
        System.out.println(choice.line());
        backend = choice.backend();
        plan = StepProfiler.trainerPlan(ModelConfig.of(model), batch, size, size, backend, RecomputePolicy.none());
        session = StepProfiler.open(plan, backend, 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        backend.close();
    }

    @Benchmark
    public float step(Bytes bytes) {
        Measured.Step s = session.step();
        bytes.set(plan, backend);
        return s.loss();
    }
}
