package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.BiasGrad;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.OpRun;

/**
 * The norm kernels of src/main/cuda/norm.cu run whole on the CPU, over the grids the GPU binding launches:
 * {@link NormSteps} (the same launch sequences as ops/norm/NormCuda) over {@link HostNormKernels}, which runs
 * each kernel body for every block and thread of its grid, barriers kept (src/main/cpp/hostgrid.h, Note
 * [Kernel bodies on two machines] in grid.cuh). Checked against the reference backend on fresh random inputs:
 * BN training forward (TRAIN, in place, REPLAY), eval forward, backward from x, from the output (dX written
 * over dY) and in eval mode, GN forward and backward (stock, and in place with the backward from the output),
 * the conv bias add and its gradient.
 *
 * <p>Structure: each case runs under three schedules (blocks in index order, then in two random orders with
 * the threads of each barrier phase shuffled too, one of them with grid y cut to 2 so the kernels stride over
 * sets) and the results must be bitwise equal, so a race on shared or global memory, a reduction whose order
 * depends on timing, or a broken set stride shows as a difference. The host run itself fails on a
 * __syncthreads reached by part of a block, a write outside an array, or a counter the last block left
 * non-zero. Shapes are chosen so that sets are split into several chunks (the last-block path), planes into
 * several units, and both the float4 path (hw % 4 == 0) and the scalar path run.
 *
 * <p>Tolerance {@link #FLOAT_SUMS}: relative to the reference's largest magnitude; the kernels add in float
 * (per thread, then a tree) where the reference adds in double, and compute each element in float; the
 * parity test of the same kernels on a GPU (CudaOpsParityTest) uses the same bound.
 * Run: {@code mvn -B -q test -Dtest=HostKernelGridTest}.
 */
class HostKernelGridTest {
    private static final double FLOAT_SUMS = 1e-5;
    private static final double EPS = 1e-5;
    private static final double MOMENTUM = 0.1;
    /** Schedules: index order; shuffled; shuffled with grid y capped at 2. */
    private static final long[][] SCHEDULES = {{0, 0}, {20261207, 0}, {977, 2}};
    /**
     * [N, C, H, W]: several chunks per set with float4 loads (hw 2052: 2 units per plane); scalar loads (hw 465);
     * 1x1 planes; 6 chunks per set with a mean of 100 (x in [99, 101]). Small, because the host runs every one of
     * the 256 threads of every block.
     */
    private static final int[][] BN_SHAPES = {{2, 3, 36, 57}, {5, 3, 15, 31}, {5, 7, 1, 1}, {4, 2, 32, 48}};
    private final Random rnd = new Random(20261207);

    @BeforeEach
    void needsLibrary() {
        Assumptions.assumeTrue(HostMath.available(), HostMath::unavailableReason);
    }

    private Tensor u(double lo, double hi, int... dims) {
        return Tensor.uniform(Shape.of(dims), lo, hi, rnd);
    }

    private Tensor g(int... dims) {
        return Tensor.gaussian(Shape.of(dims), 1, rnd);
    }

    /** Values of magnitude in [lo, hi) with random signs (gammas away from 0, Note [In-place BN backward]). */
    private Tensor signed(double lo, double hi, int n) {
        Tensor t = u(lo, hi, n);
        for (int i = 0; i < n; i++) {
            t.data()[i] *= rnd.nextBoolean() ? 1 : -1;
        }
        return t;
    }

    private static OpRun.Result ref(Op op, Tensor... in) {
        Tensor[] copies = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            copies[i] = in[i].copy();
        }
        return OpRun.run(op, copies);
    }

    private static float[] c(Tensor t) {
        return t.data().clone();
    }

    /**
     * Runs {@code body} (which makes its own copies of the inputs and returns its outputs) under every schedule,
     * demands bitwise-equal outputs, and returns those of the first schedule.
     */
    private static List<float[]> run(String what, Function<HostNormKernels, List<float[]>> body) {
        return run16(what, 0, body);
    }

    /** BN backward from the output with dX written over dY, as the in-place step does: {dx, dGamma, dBeta}. */
    private static List<float[]> bnBackwardFromY(HostNormKernels k, int n, int ch, int hw, Tensor y, Tensor gamma, Tensor beta,
                                                 Tensor invStd, Tensor dy) {
        float[] dyx = c(dy);
        float[] dGamma = new float[ch];
        float[] dBeta = new float[ch];
        NormSteps.batchNormBackwardFromOutput(k, n, ch, hw, c(y), gamma.data(), beta.data(), invStd.data(), dyx, dyx, dGamma, dBeta);
        return List.of(dyx, dGamma, dBeta);
    }

    /** BN backward from x: {dx, dGamma, dBeta}. */
    private static List<float[]> bnBackwardFromX(HostNormKernels k, int n, int ch, int hw, Tensor x, Tensor gamma, Tensor mean,
                                                 Tensor invStd, Tensor dy) {
        float[] dx = new float[x.data().length];
        float[] dGamma = new float[ch];
        float[] dBeta = new float[ch];
        NormSteps.batchNormBackward(k, n, ch, hw, c(x), gamma.data(), mean.data(), invStd.data(), c(dy), dx, dGamma, dBeta);
        return List.of(dx, dGamma, dBeta);
    }

    /** GN forward: {y, saveMean, saveInvStd}. */
    private static List<float[]> gnForward(HostNormKernels k, int n, int ch, int hw, int groups, Tensor x, Tensor gamma, Tensor beta) {
        float[] y = new float[x.data().length];
        float[] mean = new float[n * groups];
        float[] invStd = new float[n * groups];
        NormSteps.groupNorm(k, n, ch, hw, groups, EPS, c(x), gamma.data(), beta.data(), y, mean, invStd);
        return List.of(y, mean, invStd);
    }

    /** GN backward from x: {dx, dGamma, dBeta}. */
    private static List<float[]> gnBackward(HostNormKernels k, int n, int ch, int hw, int groups, Tensor x, Tensor gamma, Tensor mean,
                                            Tensor invStd, Tensor dy) {
        float[] dx = new float[x.data().length];
        float[] dGamma = new float[ch];
        float[] dBeta = new float[ch];
        NormSteps.groupNormBackward(k, n, ch, hw, groups, c(x), gamma.data(), mean.data(), invStd.data(), c(dy), dx, dGamma, dBeta);
        return List.of(dx, dGamma, dBeta);
    }

    private static void check(String what, float[] got, Tensor ref) {
        double e = GpuTests.relativeError(Tensor.of(ref.spec().shape(), got), ref, 1e-3);
        assertTrue(e <= FLOAT_SUMS, what + ": relative error " + e + " > " + FLOAT_SUMS);
    }

    @Test
    void batchNormForwardAllModes() {
        for (int[] s : BN_SHAPES) {
            int n = s[0];
            int ch = s[1];
            int hw = s[2] * s[3];
            String at = java.util.Arrays.toString(s);
            Tensor x = s[0] == 4 ? u(99, 101, s) : u(-2, 4, s);
            Tensor gamma = g(ch);
            Tensor beta = g(ch);
            Tensor rm = g(ch);
            Tensor rv = u(0.5, 2, ch);
            for (BatchNorm.Mode mode : BatchNorm.Mode.values()) {
                OpRun.Result r = ref(new BatchNorm(EPS, MOMENTUM, mode), x, gamma, beta, rm, rv);
                List<float[]> got = run("bn " + mode + " " + at, k -> {
                    float[] xs = c(x);
                    float[] y = mode == BatchNorm.Mode.TRAIN_IN_PLACE ? xs : new float[xs.length];
                    float[] mean = new float[ch];
                    float[] invStd = new float[ch];
                    float[] runMean = c(rm);
                    float[] runVar = c(rv);
                    switch (mode) {
                        case TRAIN, TRAIN_IN_PLACE -> NormSteps.batchNormTrain(k, n, ch, hw, xs, gamma.data(), beta.data(), runMean,
                                runVar, EPS, MOMENTUM, y, mean, invStd);
                        case REPLAY -> NormSteps.batchNormTrain(k, n, ch, hw, xs, gamma.data(), beta.data(), null, null, EPS, 0,
                                y, mean, invStd);
                        case EVAL -> NormSteps.batchNormEval(k, n, ch, hw, xs, gamma.data(), beta.data(), runMean, runVar, EPS, y);
                    }
                    return List.of(y, mean, invStd, runMean, runVar);
                });
                check("bn " + mode + " y " + at, got.get(0), r.output(0));
                if (mode != BatchNorm.Mode.EVAL) {
                    check("bn " + mode + " saveMean " + at, got.get(1), r.output(1));
                    check("bn " + mode + " saveInvStd " + at, got.get(2), r.output(2));
                }
                check("bn " + mode + " runningMean " + at, got.get(3), r.input(3));
                check("bn " + mode + " runningVar " + at, got.get(4), r.input(4));
            }
        }
    }

    @Test
    void batchNormBackwardAllSources() {
        for (int[] s : BN_SHAPES) {
            int n = s[0];
            int ch = s[1];
            int hw = s[2] * s[3];
            String at = java.util.Arrays.toString(s);
            Tensor x = u(-2, 4, s);
            Tensor dy = g(s);
            Tensor gamma = signed(0.3, 2, ch);
            Tensor beta = g(ch);
            OpRun.Result f = ref(new BatchNorm(EPS, MOMENTUM, BatchNorm.Mode.TRAIN), x, gamma, beta, g(ch), u(0.5, 2, ch));
            Tensor mean = f.output(1);
            Tensor invStd = f.output(2);

            OpRun.Result bx = ref(BatchNormBackward.of(BatchNormBackward.Source.X), x, gamma, mean, invStd, dy);
            List<float[]> got = run("bn backward x " + at, k -> bnBackwardFromX(k, n, ch, hw, x, gamma, mean, invStd, dy));
            for (int i = 0; i < 3; i++) {
                check("bn backward x output " + i + " " + at, got.get(i), bx.output(i));
            }

            Tensor y = f.output(0);
            OpRun.Result by = ref(BatchNormBackward.of(BatchNormBackward.Source.Y), y, gamma, beta, invStd, dy);
            got = run("bn backward from y " + at, k -> bnBackwardFromY(k, n, ch, hw, y, gamma, beta, invStd, dy));
            for (int i = 0; i < 3; i++) {
                check("bn backward from y output " + i + " " + at, got.get(i), by.output(i));
            }

            Tensor rm = g(ch);
            Tensor rv = u(0.5, 2, ch);
            OpRun.Result be = ref(new BatchNormBackward(BatchNormBackward.Source.EVAL, EPS), x, gamma, rm, rv, dy);
            got = run("bn eval backward " + at, k -> {
                float[] dx = new float[x.data().length];
                float[] dGamma = new float[ch];
                float[] dBeta = new float[ch];
                NormSteps.batchNormEvalBackward(k, n, ch, hw, c(x), gamma.data(), rm.data(), rv.data(), EPS, c(dy), dx, dGamma, dBeta);
                return List.of(dx, dGamma, dBeta);
            });
            for (int i = 0; i < 3; i++) {
                check("bn eval backward output " + i + " " + at, got.get(i), be.output(i));
            }
        }
    }

    @Test
    void groupNormForwardAndBackward() {
        for (int[] s : new int[][] {{2, 12, 10, 21}, {3, 12, 7, 9}}) {
            for (int groups : new int[] {1, 3, 12}) {
                int n = s[0];
                int ch = s[1];
                int hw = s[2] * s[3];
                String at = java.util.Arrays.toString(s) + " groups " + groups;
                Tensor x = u(-1, 3, s);
                Tensor gamma = g(ch);
                Tensor beta = g(ch);
                OpRun.Result f = ref(new GroupNorm(groups, EPS), x, gamma, beta);
                List<float[]> got = run("gn " + at, k -> gnForward(k, n, ch, hw, groups, x, gamma, beta));
                for (int i = 0; i < 3; i++) {
                    check("gn output " + i + " " + at, got.get(i), f.output(i));
                }
                Tensor dy = g(s);
                OpRun.Result b = ref(new GroupNormBackward(groups), x, gamma, f.output(1), f.output(2), dy);
                got = run("gn backward " + at, k -> gnBackward(k, n, ch, hw, groups, x, gamma, f.output(1), f.output(2), dy));
                for (int i = 0; i < 3; i++) {
                    check("gn backward output " + i + " " + at, got.get(i), b.output(i));
                }

                // in place (Note [In-place GN backward]): y over x, then the backward from y with dX over dY
                Tensor gammaAway = signed(0.3, 2, ch);
                OpRun.Result fi = ref(new GroupNorm(groups, EPS, true), x, gammaAway, beta);
                got = run("gn in place " + at, k -> {
                    float[] xs = c(x);
                    float[] mean = new float[n * groups];
                    float[] invStd = new float[n * groups];
                    NormSteps.groupNorm(k, n, ch, hw, groups, EPS, xs, gammaAway.data(), beta.data(), xs, mean, invStd);
                    return List.of(xs, mean, invStd);
                });
                for (int i = 0; i < 3; i++) {
                    check("gn in place output " + i + " " + at, got.get(i), fi.output(i));
                }
                Tensor y = fi.output(0);
                OpRun.Result by = ref(new GroupNormBackward(groups, GroupNormBackward.Source.Y), y, gammaAway, beta, fi.output(2), dy);
                got = run("gn backward from y " + at, k -> {
                    float[] dyx = c(dy);
                    float[] dGamma = new float[ch];
                    float[] dBeta = new float[ch];
                    NormSteps.groupNormBackwardFromOutput(k, n, ch, hw, groups, c(y), gammaAway.data(), beta.data(), fi.output(2).data(),
                            dyx, dyx, dGamma, dBeta);
                    return List.of(dyx, dGamma, dBeta);
                });
                for (int i = 0; i < 3; i++) {
                    check("gn backward from y output " + i + " " + at, got.get(i), by.output(i));
                }
            }
        }
    }

    @Test
    void convBiasAddAndGradient() {
        for (int[] s : BN_SHAPES) {
            int n = s[0];
            int ch = s[1];
            int hw = s[2] * s[3];
            String at = java.util.Arrays.toString(s);
            Tensor y = g(s);
            Tensor bias = g(ch);
            float[] want = c(y);
            for (int i = 0; i < want.length; i++) {
                want[i] += bias.data()[(i / hw) % ch];
            }
            List<float[]> got = run("bias add " + at, k -> {
                float[] ys = c(y);
                NormSteps.biasAdd(k, n, ch, hw, bias.data(), ys);
                return List.of(ys);
            });
            assertArrayEquals(want, got.get(0), "bias add " + at + ": one float addition per element, as the reference");
            OpRun.Result r = ref(new BiasGrad(), y);
            got = run("bias grad " + at, k -> {
                float[] db = new float[ch];
                NormSteps.biasGrad(k, n, ch, hw, c(y), db);
                return List.of(db);
            });
            check("bias grad " + at, got.get(0), r.output(0));
        }
    }

    @Test
    void shapesCoverSplitSetsUnitsAndBothLoadPaths() {
        NormGrid big = NormGrid.batchNorm(4, 2, 32 * 48, true);
        assertTrue(big.chunks() > 1 && big.vec(), "several chunks per set, float4: " + big);
        NormGrid units = NormGrid.batchNorm(2, 3, 36 * 57, true);
        assertTrue(units.segs() > 1 && units.chunks() > 1 && units.vec(), "several units per plane: " + units);
        NormGrid scalar = NormGrid.batchNorm(5, 3, 15 * 31, true);
        assertTrue(!scalar.vec() && scalar.chunks() > 1, "scalar loads, several chunks: " + scalar);
        assertTrue(NormGrid.groupNorm(2, 12, 10 * 21, 1, true).chunks() > 1, "a group norm set split into chunks");
        HostNormKernels k = new HostNormKernels(0, 0);
        NormSteps.biasGrad(k, 4, 2, 32 * 48, new float[4 * 2 * 32 * 48], new float[2]);
        assertEquals(List.of("ls_norm_grad_k kind 3 " + big), k.launches);
    }

    @Test
    void divisionWalksAgreeWithDivision() {
        // the grid-stride walks that replaced a 64-bit division per element (LsDivWalk: CE sums and gradient, argmax,
        // pooling backward, channel copies); strides below and above the divisor, divisors of 1 and primes
        java.util.Random r = new java.util.Random(7);
        for (int k = 0; k < 200; k++) {
            long d = 1 + r.nextInt(k % 3 == 0 ? 5 : 70_000);
            long d2 = 1 + r.nextInt(k % 2 == 0 ? 3 : 600);
            long stride = 1 + r.nextInt(k % 4 == 0 ? 300 : 600_000);
            long start = r.nextInt(1 << 20);
            assertEquals(0, HostMath.divWalkMismatches(start, stride, d, d2, 2000), "start " + start + " stride " + stride + " d " + d + " d2 " + d2);
        }
    }

    /** {@link #run} with the activations in storage type code {@code dt} (0: float32). */
    private static List<float[]> run16(String what, int dt, Function<HostNormKernels, List<float[]>> body) {
        List<float[]> first = null;
        for (long[] s : SCHEDULES) {
            List<float[]> got = body.apply(new HostNormKernels(s[0], (int) s[1], dt));
            if (first == null) {
                first = got;
                continue;
            }
            for (int i = 0; i < got.size(); i++) {
                assertArrayEquals(first.get(i), got.get(i), what + ": output " + i + " differs under schedule " + s[0] + " / grid y " + s[1]);
            }
        }
        return first;
    }

    /**
     * As {@link #check}, plus for a 16-bit reference one unit in its last place, and at most 1 element in 50 (plus one)
     * not the reference's 16-bit value (BackendParity's rule for 16-bit kernels).
     */
    private static void check16(String what, float[] got, Tensor ref) {
        BackendParity.assertClose(what, got, ref, FLOAT_SUMS);
    }

    /**
     * Note [16-bit norm kernels]: BN training forward in place, its backward from the output (dX over dY) and from x,
     * GN forward and backward, with x, y, dy, dx in bfloat16 and binary16, over the real grids under every schedule
     * (bitwise-equal), against the reference's 16-bit emulation; statistics and parameter gradients float32.
     */
    @Test
    void normKernelsOn16BitData() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            int dt = t == org.leanseg.tensor.DType.BF16 ? 1 : 2;
            for (int[] s : new int[][] {{2, 3, 36, 57}, {5, 3, 15, 31}}) {
                int n = s[0];
                int ch = s[1];
                int hw = s[2] * s[3];
                String at = t + " " + java.util.Arrays.toString(s);
                Tensor x = BackendParity.rounded(u(-2, 4, s), t);
                Tensor gamma = signed(0.3, 2, ch);
                Tensor beta = g(ch);
                Tensor rm = g(ch);
                Tensor rv = u(0.5, 2, ch);
                List<Tensor> f = BackendParity.reference(new BatchNorm(EPS, MOMENTUM, BatchNorm.Mode.TRAIN_IN_PLACE), x, gamma, beta, rm, rv);
                List<float[]> got = run16("bn in place " + at, dt, k -> {
                    float[] xy = c(x);
                    float[] mean = new float[ch];
                    float[] invStd = new float[ch];
                    float[] runMean = c(rm);
                    float[] runVar = c(rv);
                    NormSteps.batchNormTrain(k, n, ch, hw, xy, gamma.data(), beta.data(), runMean, runVar, EPS, MOMENTUM, xy, mean, invStd);
                    return List.of(xy, mean, invStd, runMean, runVar);
                });
                for (int i = 0; i < 3; i++) {
                    check16("bn in place output " + i + " " + at, got.get(i), f.get(i));
                }
                check16("bn in place runningMean " + at, got.get(3), f.get(3 + 3));
                check16("bn in place runningVar " + at, got.get(4), f.get(3 + 4));

                Tensor y = f.get(0);
                Tensor invStd = f.get(2);
                Tensor mean = f.get(1);
                Tensor dy = BackendParity.rounded(g(s), t);
                List<Tensor> by = BackendParity.reference(BatchNormBackward.of(BatchNormBackward.Source.Y), y, gamma, beta, invStd, dy);
                got = run16("bn backward from y " + at, dt, k -> bnBackwardFromY(k, n, ch, hw, y, gamma, beta, invStd, dy));
                for (int i = 0; i < 3; i++) {
                    check16("bn backward from y output " + i + " " + at, got.get(i), by.get(i));
                }
                List<Tensor> bx = BackendParity.reference(BatchNormBackward.of(BatchNormBackward.Source.X), x, gamma, mean, invStd, dy);
                got = run16("bn backward from x " + at, dt, k -> bnBackwardFromX(k, n, ch, hw, x, gamma, mean, invStd, dy));
                for (int i = 0; i < 3; i++) {
                    check16("bn backward from x output " + i + " " + at, got.get(i), bx.get(i));
                }
            }
            int[] s = {2, 12, 10, 21};
            int n = s[0];
            int ch = s[1];
            int hw = s[2] * s[3];
            int groups = 3;
            String at = t + " gn " + java.util.Arrays.toString(s);
            Tensor x = BackendParity.rounded(g(s), t);
            Tensor gamma = signed(0.3, 2, ch);
            Tensor beta = g(ch);
            List<Tensor> f = BackendParity.reference(new GroupNorm(groups, EPS), x, gamma, beta);
            List<float[]> got = run16("gn " + at, dt, k -> gnForward(k, n, ch, hw, groups, x, gamma, beta));
            for (int i = 0; i < 3; i++) {
                check16("gn output " + i + " " + at, got.get(i), f.get(i));
            }
            Tensor dy = BackendParity.rounded(g(s), t);
            List<Tensor> b = BackendParity.reference(new GroupNormBackward(groups), x, gamma, f.get(1), f.get(2), dy);
            got = run16("gn backward " + at, dt, k -> gnBackward(k, n, ch, hw, groups, x, gamma, f.get(1), f.get(2), dy));
            for (int i = 0; i < 3; i++) {
                check16("gn backward output " + i + " " + at, got.get(i), b.get(i));
            }
        }
    }

    @Test
    void hostRunRejectsAWriteOutOfBounds() {
        // a bias add over 3 planes of 4 into an output of 8 floats: the third plane lands past its end
        float[] y = new float[12];
        java.util.Arrays.fill(y, 1f);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> HostMath.planeAffine(7, 3, 1, 4, 0, 4, false, null,
                y, new float[8], new float[1], null, null, null, null, 0, 1, 3, 0, 0));
        assertTrue(e.getMessage().contains("outside its bounds"), e.getMessage());
    }

    @Test
    void deepLabGridsHaveEnoughBlocks() {
        // BN layers of DeepLabV3+ MobileNetV2 at 512x512 (channels, spatial side), batches 2 and 8
        List<String> thin = new ArrayList<>();
        for (int batch : new int[] {2, 8}) {
            for (int[] l : new int[][] {{32, 256}, {16, 256}, {96, 256}, {96, 128}, {24, 128}, {144, 128}, {144, 64}, {32, 64},
                    {192, 32}, {64, 32}, {384, 32}, {576, 32}, {160, 32}, {960, 32}, {320, 32}, {256, 32}, {48, 128}, {256, 128}}) {
                NormGrid grid = NormGrid.batchNorm(batch, l[0], l[1] * l[1], true);
                long blocks = (long) grid.chunks() * grid.sets();
                long elements = (long) batch * l[0] * l[1] * l[1];
                // at least 256 blocks, or blocks of at most 2 * MIN_PER_BLOCK elements
                if (blocks < 256 && elements / blocks > 2L * NormGrid.MIN_PER_BLOCK) {
                    thin.add("batch " + batch + " " + l[0] + "x" + l[1] + "^2: " + grid);
                }
            }
        }
        assertEquals(List.of(), thin, "reductions with few, large blocks");
    }
}
