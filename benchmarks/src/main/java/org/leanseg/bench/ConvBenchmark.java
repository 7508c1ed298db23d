package org.leanseg.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.Ops;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.tensor.TensorSpec;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Reference-backend convolution kernels, run through the op table exactly as the executor runs them.
 * <ul>
 *   <li>{@code gemm*}: 3x3, 64 -> 64 channels, x [8, 64, 56, 56], stride 1, padding 1 (ResNet
 *       layer1 size): forward, backward data, backward filter. Each is 2 * 8*64*56*56*64*9 =
 *       1.85 GFLOP; the {@code gflop} counter is reported as GFLOP/s.</li>
 *   <li>{@code depthwise*}: 3x3 depthwise, x [8, 144, 56, 56], stride 1, padding 1 (MobileNetV2
 *       block 2). Memory bound; the {@code gbytes} counter counts one read of the input and one write
 *       of the output (2 * 14.4 MB) per call and is reported as GB/s.</li>
 * </ul>
 * Run: {@code java -jar benchmarks/target/benchmarks.jar ConvBenchmark}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@State(Scope.Benchmark)
public class ConvBenchmark {
    private static final int N = 8;
    private static final int C = 64;
    private static final int HW = 56;
    private static final int DW_C = 144;
    static final double GEMM_GFLOP = 2.0 * N * C * HW * HW * C * 9 / 1e9;
    static final double DW_GBYTES = 2.0 * 4 * N * DW_C * HW * HW / 1e9;

    private final Conv2d conv = Conv2d.of(1, 1, 1, 1);
    private final Conv2d depthwise = Conv2d.of(1, 1, 1, DW_C);
    private RefView x;
    private RefView w;
    private RefView y;
    private RefView dx;
    private RefView dw;
    private RefView dwX;
    private RefView dwW;
    private RefView dwY;

    /** Work done, reported by JMH as a rate per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Work {
        public double gflop;
        public double gbytes;

        @Setup(Level.Iteration)
        public void reset() {
            gflop = 0;
            gbytes = 0;
        }
    }

    @Setup
    public void setUp() {
        Random rnd = new Random(1);
        x = random(TensorSpec.f32(N, C, HW, HW), rnd);
        w = random(TensorSpec.f32(C, C, 3, 3), rnd);
        y = random(TensorSpec.f32(N, C, HW, HW), rnd);
        dx = random(TensorSpec.f32(N, C, HW, HW), rnd);
        dw = random(TensorSpec.f32(C, C, 3, 3), rnd);
        dwX = random(TensorSpec.f32(N, DW_C, HW, HW), rnd);
        dwW = random(TensorSpec.f32(DW_C, 1, 3, 3), rnd);
        dwY = random(TensorSpec.f32(N, DW_C, HW, HW), rnd);
    }

    private static RefView random(TensorSpec spec, Random rnd) {
        float[] d = new float[spec.shape().size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = rnd.nextFloat() - 0.5f;
        }
        return new RefView(d, 0, spec);
    }

    private static float run(Op op, RefView[] in, RefView out) {
        Ops.runReference(op, in, new RefView[] {out});
        return out.get(0);
    }

    @Benchmark
    public float gemmForward(Work work) {
        work.gflop += GEMM_GFLOP;
        return run(conv, new RefView[] {x, w}, y);
    }

    @Benchmark
    public float gemmBackwardData(Work work) {
        work.gflop += GEMM_GFLOP;
        return run(new Conv2dBackwardData(conv, HW, HW), new RefView[] {y, w}, dx);
    }

    @Benchmark
    public float gemmBackwardFilter(Work work) {
        work.gflop += GEMM_GFLOP;
        return run(new Conv2dBackwardFilter(conv, 3, 3), new RefView[] {x, y}, dw);
    }

    @Benchmark
    public float depthwiseForward(Work work) {
        work.gbytes += DW_GBYTES;
        return run(depthwise, new RefView[] {dwX, dwW}, dwY);
    }

    @Benchmark
    public float depthwiseBackwardData(Work work) {
        work.gbytes += DW_GBYTES;
        return run(new Conv2dBackwardData(depthwise, HW, HW), new RefView[] {dwY, dwW}, dwX);
    }

    @Benchmark
    public float depthwiseBackwardFilter(Work work) {
        work.gbytes += DW_GBYTES;
        return run(new Conv2dBackwardFilter(depthwise, 3, 3), new RefView[] {dwX, dwY}, dwW);
    }
}
