package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.OpRun;

/**
 * The tiled depthwise kernels of src/main/cuda/dw.cuh (Note [Depthwise kernels by tiles]) run whole on the CPU over
 * the grids the GPU binding (ops/conv/ConvCuda) launches: {@link DwGrid} decides them, {@link HostMath} runs every
 * block and every one of its 256 threads as fibers, barriers kept (src/main/cpp/hostgrid.h). Checked against the
 * reference backend on fresh random inputs: plain and fused ReLU/ReLU6 depthwise forward (with and without bias),
 * data gradient, and filter gradient (plain and fused), over strides 1-2, dilations 1-30, channel multipliers 1-2,
 * odd sizes, several tiles per plane in both directions, tiles shrunk to fit shared memory, 1x1 planes, and filter
 * gradients split over several chunks.
 *
 * <p>Structure, as HostKernelGridTest: each case runs under three schedules (index order; blocks and the threads of
 * every barrier phase shuffled; shuffled with grid y cut to 2, so the kernels stride over planes and channels) and
 * the outputs must be bitwise equal: a race on the staged tile or the reduction, or an order that depends on
 * timing, shows as a difference. The host run fails on a __syncthreads reached by part of a block, a write outside
 * an array (NaN guard zones) or a reduction counter left non-zero; a read of shared memory nobody wrote reads NaN.
 *
 * <p>Bounds: forward and data gradient add each output's taps in the reference's order with the same roundings, so
 * they must equal the reference bit for bit; the filter gradient sums in float per thread and block (the
 * reference in its own order), so it is held to {@link #FLOAT_SUMS} of the largest magnitude, the bound
 * CudaOpsParityTest uses. Run: {@code mvn -B -q test -Dtest=HostDwGridTest}.
 */
class HostDwGridTest {
    private static final double FLOAT_SUMS = 1e-5;
    private static final long[][] SCHEDULES = {{0, 0}, {20261207, 0}, {977, 2}};
    private final Random rnd = new Random(20261207);

    /** n, c, mult, h, w, k, stride, pad, dilation, act (0 none, 1 ReLU, 2 ReLU6), bias (0/1). */
    private static final int[][] CASES = {
        {2, 3, 1, 70, 70, 3, 1, 1, 1, 2, 1},     // several tiles both ways, ReLU6, bias
        {2, 2, 1, 37, 41, 3, 2, 1, 1, 0, 0},     // stride 2, odd sizes
        {1, 3, 2, 19, 23, 3, 1, 2, 2, 1, 1},     // dilation 2, channel multiplier 2
        {1, 2, 1, 33, 29, 5, 2, 2, 1, 1, 0},     // 5x5 stride 2 (filter gradient: not tiled)
        {1, 2, 1, 40, 40, 3, 1, 30, 30, 0, 1},   // dilation 30: the tile shrinks to fit the stage
        {3, 5, 1, 1, 1, 3, 1, 1, 1, 2, 0},       // 1x1 planes (image pooling)
        {2, 4, 1, 16, 130, 3, 2, 1, 1, 1, 0},    // wide rows: several tiles across, stride 2
    };

    @BeforeEach
    void needsLibrary() {
        Assumptions.assumeTrue(HostMath.available(), HostMath::unavailableReason);
    }

    private static Activation.Kind act(int a) {
        return a == 0 ? null : a == 1 ? Activation.Kind.RELU : Activation.Kind.RELU6;
    }

    private static float cap(Activation.Kind a) {
        return a == null ? 0f : a.cap();
    }

    private static String name(int[] c) {
        return "n" + c[0] + " c" + c[1] + " x" + c[2] + " " + c[3] + "x" + c[4] + " k" + c[5] + " s" + c[6] + " p" + c[7] + " d" + c[8]
                + (c[9] == 0 ? "" : c[9] == 1 ? " relu" : " relu6") + (c[10] == 1 ? " +bias" : "");
    }

    private static OpRun.Result ref(Op op, Tensor... in) {
        Tensor[] copies = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            copies[i] = in[i].copy();
        }
        return OpRun.run(op, copies);
    }

    private interface HostRun {
        float[] run(long schedule, int maxGridY);
    }

    /** Runs under every schedule, demands bitwise-equal outputs, returns the first. */
    private static float[] run(String what, HostRun body) {
        float[] first = null;
        for (long[] s : SCHEDULES) {
            float[] got = body.run(s[0], (int) s[1]);
            if (first == null) {
                first = got;
            } else {
                assertArrayEquals(first, got, what + ": differs under schedule " + s[0] + " / grid y " + s[1]);
            }
        }
        return first;
    }

    private static void exact(String what, float[] got, Tensor want) {
        float[] w = want.data();
        assertEquals(w.length, got.length, what);
        for (int i = 0; i < w.length; i++) {
            // the same bits, up to the sign of a zero (a tap in the padding adds w * 0 in the reference)
            if (Float.floatToIntBits(w[i]) != Float.floatToIntBits(got[i]) && !(w[i] == 0f && got[i] == 0f)) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", the reference " + w[i]);
            }
        }
    }

    @Test
    void forwardEqualsTheReferenceBitForBit() {
        for (int[] c : CASES) {
            Activation.Kind a = act(c[9]);
            Conv2d conv = Conv2d.of(c[6], c[7], c[8], c[1]);
            Tensor z = Tensor.uniform(Shape.of(c[0], c[1], c[3], c[4]), -3, 9, rnd);
            Tensor w = Tensor.gaussian(Shape.of(c[1] * c[2], 1, c[5], c[5]), 1, rnd);
            Tensor b = c[10] == 1 ? Tensor.gaussian(Shape.of(c[1] * c[2]), 1, rnd) : null;
            Op op = a == null ? conv : new ActConv2d(a, conv);
            OpRun.Result r = b == null ? ref(op, z, w) : ref(op, z, w, b);
            Shape ys = r.output(0).spec().shape();
            DwGrid d = DwGrid.forward(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7], c[8], c[8],
                    a != null);
            assertNotNull(d, name(c));
            float[] got = run("forward " + name(c), (s, gy) -> {
                float[] y = new float[(int) ys.numel()];
                HostMath.dwForward(d.hostGeometry(gy), cap(a), z.data().clone(), w.data().clone(), b == null ? null : b.data().clone(), y, s, 0);
                return y;
            });
            exact("forward " + name(c), got, r.output(0));
        }
    }

    @Test
    void dataGradientEqualsTheReferenceBitForBit() {
        for (int[] c : CASES) {
            Conv2d conv = Conv2d.of(c[6], c[7], c[8], c[1]);
            Tensor w = Tensor.gaussian(Shape.of(c[1] * c[2], 1, c[5], c[5]), 1, rnd);
            Shape ys = conv.infer(List.of(Tensor.zeros(Shape.of(c[0], c[1], c[3], c[4])).spec(), w.spec())).get(0).shape();
            Tensor dy = Tensor.gaussian(ys, 1, rnd);
            OpRun.Result r = ref(new Conv2dBackwardData(conv, c[3], c[4]), dy, w);
            DwGrid d = DwGrid.backwardData(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7], c[8],
                    c[8]);
            assertNotNull(d, name(c));
            float[] got = run("data gradient " + name(c), (s, gy) -> {
                float[] dx = new float[c[0] * c[1] * c[3] * c[4]];
                HostMath.dwBackwardData(d.hostGeometry(gy), dy.data().clone(), w.data().clone(), dx, s, 0);
                return dx;
            });
            exact("data gradient " + name(c), got, r.output(0));
        }
    }

    @Test
    void filterGradientMatchesTheReference() {
        int tiled = 0;
        for (int[] c : CASES) {
            Activation.Kind a = act(c[9]);
            Conv2d conv = Conv2d.of(c[6], c[7], c[8], c[1]);
            Tensor z = Tensor.uniform(Shape.of(c[0], c[1], c[3], c[4]), -3, 9, rnd);
            Tensor w = Tensor.zeros(Shape.of(c[1] * c[2], 1, c[5], c[5]));
            Shape ys = conv.infer(List.of(z.spec(), w.spec())).get(0).shape();
            Tensor dy = Tensor.gaussian(ys, 1, rnd);
            Conv2dBackwardFilter plain = new Conv2dBackwardFilter(conv, c[5], c[5]);
            OpRun.Result r = ref(a == null ? plain : new ActConv2dBackwardFilter(a, plain), z, dy);
            DwGrid d = DwGrid.filter(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7], c[8], c[8],
                    a != null);
            if (c[5] > DwGrid.KMAX) {
                assertNull(d, "filters past 3x3 keep the per-tap kernel: " + name(c));
                continue;
            }
            tiled++;
            float[] got = run("filter gradient " + name(c), (s, gy) -> {
                float[] dw = new float[(int) w.spec().shape().numel()];
                HostMath.dwFilter(d.hostGeometry(gy), cap(a), z.data().clone(), dy.data().clone(), dw, s, 0);
                return dw;
            });
            double e = GpuTests.relativeError(Tensor.of(r.output(0).spec().shape(), got), r.output(0), 1e-3);
            assertTrue(e <= FLOAT_SUMS, "filter gradient " + name(c) + ": relative error " + e + " > " + FLOAT_SUMS);
        }
        assertEquals(CASES.length - 1, tiled);
    }

    /**
     * The tiled kernels on bf16 and fp16 data (z, y, dY, dX 16-bit, the weights rounded to it inside the kernel, dW
     * float32), the first cases: forward and data gradient bit for bit equal to the reference's 16-bit emulation (the
     * same arithmetic, one rounding), the filter gradient within FLOAT_SUMS; three schedules, bitwise-equal.
     */
    @Test
    void sixteenBitDataMatchesTheReferenceEmulation() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            int dt = t == org.leanseg.tensor.DType.BF16 ? 1 : 2;
            for (int[] c : java.util.Arrays.copyOf(CASES, 4)) {
                String at = t + " " + name(c);
                Activation.Kind a = act(c[9]);
                Conv2d conv = Conv2d.of(c[6], c[7], c[8], c[1]);
                Tensor z = BackendParity.rounded(Tensor.uniform(Shape.of(c[0], c[1], c[3], c[4]), -3, 9, rnd), t);
                Tensor w = Tensor.gaussian(Shape.of(c[1] * c[2], 1, c[5], c[5]), 1, rnd);
                Tensor b = c[10] == 1 ? Tensor.gaussian(Shape.of(c[1] * c[2]), 1, rnd) : null;
                Op op = a == null ? conv : new ActConv2d(a, conv);
                Tensor y = (b == null ? BackendParity.reference(op, z, w) : BackendParity.reference(op, z, w, b)).get(0);
                Shape ys = y.spec().shape();
                DwGrid f = DwGrid.forward(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7], c[8],
                        c[8], a != null);
                exact("forward " + at, run("forward " + at, (s, gy) -> {
                    float[] out = new float[(int) ys.numel()];
                    HostMath.dwForward(f.hostGeometry(gy), cap(a), z.data().clone(), w.data().clone(), b == null ? null : b.data().clone(),
                            out, s, dt);
                    return out;
                }), y);
                Tensor dy = BackendParity.rounded(Tensor.gaussian(ys, 1, rnd), t);
                Tensor dx = BackendParity.reference(new Conv2dBackwardData(conv, c[3], c[4]), dy, w).get(0);
                DwGrid bd = DwGrid.backwardData(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7],
                        c[8], c[8]);
                exact("data gradient " + at, run("data gradient " + at, (s, gy) -> {
                    float[] out = new float[c[0] * c[1] * c[3] * c[4]];
                    HostMath.dwBackwardData(bd.hostGeometry(gy), dy.data().clone(), w.data().clone(), out, s, dt);
                    return out;
                }), dx);
                if (c[5] > DwGrid.KMAX) {
                    continue;   // filters past 3x3: the per-tap kernel (float32 copies by chunks of images on cuda)
                }
                Conv2dBackwardFilter plain = new Conv2dBackwardFilter(conv, c[5], c[5]);
                Tensor dW = BackendParity.reference(a == null ? plain : new ActConv2dBackwardFilter(a, plain), z, dy).get(0);
                DwGrid fg = DwGrid.filter(c[0], c[1], c[2], c[3], c[4], ys.dim(2), ys.dim(3), c[5], c[5], c[6], c[6], c[7], c[7], c[8],
                        c[8], a != null);
                float[] got = run("filter gradient " + at, (s, gy) -> {
                    float[] out = new float[(int) w.spec().shape().numel()];
                    HostMath.dwFilter(fg.hostGeometry(gy), cap(a), z.data().clone(), dy.data().clone(), out, s, dt);
                    return out;
                });
                double e = GpuTests.relativeError(Tensor.of(dW.spec().shape(), got), dW, 1e-3);
                assertTrue(e <= FLOAT_SUMS, "filter gradient " + at + ": relative error " + e + " > " + FLOAT_SUMS);
            }
        }
    }

    @Test
    void casesCoverTilesStagesAndChunks() {
        DwGrid many = DwGrid.forward(2, 3, 1, 70, 70, 70, 70, 3, 3, 1, 1, 1, 1, 1, 1, true);
        assertTrue(many.tilesX() > 1 && many.tilesY() > 1, "several tiles both ways: " + many);
        DwGrid shrunk = DwGrid.forward(1, 2, 1, 40, 40, 40, 40, 3, 3, 1, 1, 30, 30, 30, 30, false);
        assertTrue(shrunk.tileH() == 1 && shrunk.tileW() < 64 && (long) shrunk.stageH() * shrunk.stageW() <= DwGrid.STAGE,
                "a tile shrunk to fit the stage: " + shrunk);
        DwGrid back = DwGrid.backwardData(1, 3, 2, 19, 23, 19, 23, 3, 3, 1, 1, 2, 2, 2, 2);
        assertTrue((long) back.mult() * back.stageH() * back.stageW() <= DwGrid.STAGE, "two output channels staged: " + back);
        DwGrid chunks = DwGrid.filter(2, 3, 1, 70, 70, 70, 70, 3, 3, 1, 1, 1, 1, 1, 1, true);
        assertTrue(chunks.chunks() > 1 && chunks.bands() > 1, "a channel split over chunks and bands: " + chunks);
        DwGrid one = DwGrid.filter(3, 5, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, false);
        assertEquals(1, one.chunks(), "one chunk: the direct path");
    }

    @Test
    void deepLabDepthwiseLayersAllTakeTheTiledKernels() {
        // every depthwise conv of DeepLabV3+ MobileNetV2 (512x512) and Xception-65 (512x512 and 1024x2048): {c, side h,
        // side w, stride, dilation} of its input
        List<int[]> layers = new ArrayList<>();
        for (int[] l : new int[][] {{32, 256, 256, 1, 1}, {96, 256, 256, 2, 1}, {144, 128, 128, 1, 1}, {144, 128, 128, 2, 1},
                {192, 64, 64, 1, 1}, {192, 64, 64, 2, 1}, {384, 32, 32, 1, 1}, {576, 32, 32, 1, 1}, {576, 32, 32, 1, 2},
                {960, 32, 32, 1, 2}}) {
            layers.add(l);
        }
        for (int scale : new int[] {1, 2}) {
            int h = 512 * scale / 2;
            int w = 512 * (scale == 1 ? 1 : 4) / 2;
            for (int[] l : new int[][] {{64, 1, 1, 1}, {128, 1, 2, 1}, {128, 2, 1, 1}, {256, 2, 2, 1}, {256, 4, 1, 1}, {728, 4, 2, 1},
                    {728, 8, 1, 1}, {1024, 8, 1, 2}, {1536, 8, 1, 2}}) {
                layers.add(new int[] {l[0], h / l[1], w / l[1], l[2], l[3]});
            }
        }
        List<String> missing = new ArrayList<>();
        for (int[] l : layers) {
            int s = l[3];
            int d = l[4];
            int ho = (l[1] + 2 * d - 2 * d - 1) / s + 1;
            int wo = (l[2] + 2 * d - 2 * d - 1) / s + 1;
            for (int n : new int[] {1, 8}) {
                DwGrid f = DwGrid.forward(n, l[0], 1, l[1], l[2], ho, wo, 3, 3, s, s, d, d, d, d, true);
                DwGrid b = DwGrid.backwardData(n, l[0], 1, l[1], l[2], ho, wo, 3, 3, s, s, d, d, d, d);
                DwGrid g = DwGrid.filter(n, l[0], 1, l[1], l[2], ho, wo, 3, 3, s, s, d, d, d, d, true);
                if (f == null || b == null || g == null) {
                    missing.add(java.util.Arrays.toString(l) + " batch " + n);
                    continue;
                }
                // enough blocks to fill an H100's 132 SMs several times over, or blocks of at most 2 tiles' worth
                long blocks = (long) g.chunks() * g.c();
                long perBlock = (long) n * ho * wo * l[0] / blocks;
                if (blocks < 256 && perBlock > 2L * DwGrid.MIN_PER_BLOCK) {
                    missing.add(java.util.Arrays.toString(l) + " batch " + n + ": filter gradient over " + blocks + " blocks");
                }
            }
        }
        assertEquals(List.of(), missing, "depthwise layers without a tiled grid, or with few large filter-gradient blocks");
    }
}
