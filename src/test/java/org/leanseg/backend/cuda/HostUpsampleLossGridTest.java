package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.loss.UpsampleArgmax;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.OpRun;

/**
 * The fused upsample + cross-entropy kernels of src/main/cuda/upsample_loss.cuh (Note [Fused upsample loss on the
 * GPU]) run whole on the CPU over the grids the GPU binding (ops/loss/LossCuda) launches: {@link UpLossGrid} decides
 * them, {@link HostMath} runs every block and every one of its 256 threads as fibers, barriers kept
 * (src/main/cpp/hostgrid.h). Checked against the reference ops (which equal the unfused resize + cross-entropy pair,
 * UpsampleSoftmaxCrossEntropyTest) on fresh random inputs: x4 upsampling as DeepLabV3+, odd sizes, a downscale,
 * align_corners, class weights with a zero weight, about one pixel in six ignored, several class groups and column
 * segments, and a bad label.
 *
 * <p>Structure, as HostKernelGridTest: each case runs under three schedules (index order; blocks and the threads of
 * every barrier phase shuffled, twice) and the results must be bitwise equal, so a race on the staged gradients, or a
 * sum whose order depends on timing, shows as a difference; the host run fails on a __syncthreads reached by part of
 * a block and on a write outside an array. Bounds: the loss within 1e-6 relative (sums of float-rounded terms in
 * double, in another order than the reference), dz within {@link #FLOAT_SUMS} of its largest magnitude, the bound
 * CudaOpsParityTest uses for our kernels. Run: {@code mvn -B -q test -Dtest=HostUpsampleLossGridTest}.
 */
class HostUpsampleLossGridTest {
    private static final double FLOAT_SUMS = 1e-5;
    private static final int IGNORE = 255;
    private static final long[] SCHEDULES = {0, 20261207, 977};
    private final Random rnd = new Random(20261208);

    @BeforeEach
    void needsLibrary() {
        Assumptions.assumeTrue(HostMath.available(), HostMath::unavailableReason);
    }

    private Tensor labels(int classes, int n, int h, int w) {
        int[] l = new int[n * h * w];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(6) == 0 ? IGNORE : rnd.nextInt(classes);
        }
        return Tensor.labels(Shape.of(n, h, w), l);
    }

    /** {N, K, h, w, outH, outW, alignCorners}. */
    private static final int[][] CASES = {
        {2, 5, 4, 5, 16, 20, 0},      // x4, as DeepLabV3+
        {1, 5, 3, 7, 13, 9, 0},       // odd sizes
        {2, 5, 9, 8, 5, 6, 0},        // a downscale
        {1, 5, 4, 3, 13, 11, 1},      // align_corners
        {1, 3, 6, 70, 24, 280, 0},    // several column segments, wide rows
        {1, 300, 2, 40, 8, 160, 0},   // many classes: several class groups
    };

    @Test
    void lossAndGradientMatchTheReference() {
        float[] weights5 = {0.5f, 2f, 1f, 0f, 3f};
        for (int[] c : CASES) {
            Tensor z = Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 2, rnd);
            Tensor lab = labels(c[1], c[0], c[4], c[5]);
            UpLossGrid g = UpLossGrid.of(c[0], c[1], c[2], c[3], c[4], c[5], c[6] == 1, IGNORE);
            for (float[] weights : new float[][] {null, c[1] == 5 ? weights5 : null}) {
                String what = java.util.Arrays.toString(c) + (weights == null ? "" : " weighted") + " " + g;
                UpsampleSoftmaxCrossEntropy op = new UpsampleSoftmaxCrossEntropy(c[4], c[5], c[6] == 1, IGNORE, weights);
                float want = OpRun.run(op, z.copy(), lab.copy()).output(0).data()[0];
                double[] first = null;
                for (long s : SCHEDULES) {
                    double[] partials = new double[2 * g.rowBlocks()];
                    long bad = HostMath.upCePartial(g.hostGeometry(), z.data().clone(), lab.data().clone(), weights, partials, s, 0);
                    assertEquals(-1, bad, what + ": no bad label");
                    if (first == null) {
                        first = partials;
                    } else {
                        assertArrayEquals(first, partials, what + ": forward partials differ under schedule " + s);
                    }
                }
                double loss = 0;
                double total = 0;
                for (int b = 0; b < g.rowBlocks(); b++) {
                    loss += first[2 * b];
                    total += first[2 * b + 1];
                }
                float got = total > 0 ? (float) (loss / total) : 0f;
                assertEquals(want, got, 1e-6 * Math.abs(want), what + ": loss");

                float dLoss = 0.7f;
                Tensor dzWant = OpRun.run(new UpsampleSoftmaxCrossEntropyBackward(c[4], c[5], c[6] == 1, IGNORE, weights), z.copy(),
                        lab.copy(), Tensor.of(Shape.of(1), dLoss)).output(0);
                float[] dzFirst = null;
                for (long s : SCHEDULES) {
                    float[] dz = new float[z.data().length];
                    java.util.Arrays.fill(dz, Float.NaN);   // every element must be written
                    HostMath.upCeBackward(g.hostGeometry(), z.data().clone(), lab.data().clone(), weights, dLoss, total, dz, s, 0);
                    if (dzFirst == null) {
                        dzFirst = dz;
                    } else {
                        assertArrayEquals(dzFirst, dz, what + ": dz differs under schedule " + s);
                    }
                }
                double e = GpuTests.relativeError(Tensor.of(z.spec().shape(), dzFirst), dzWant, 1e-3);
                assertTrue(e <= FLOAT_SUMS, what + ": dz relative error " + e + " > " + FLOAT_SUMS);
            }
        }
    }

    /**
     * On bf16 and fp16 logits (Note [Mixed precision]): the loss within 1e-6 of the reference's 16-bit emulation, dz
     * (stored in 16 bits) within FLOAT_SUMS plus one unit in its last place with at most 1 element in 50 (plus one) not
     * the reference's value, the eval mask equal.
     */
    @Test
    void sixteenBitLogitsMatchTheReferenceEmulation() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            int dt = t == org.leanseg.tensor.DType.BF16 ? 1 : 2;
            for (int[] c : java.util.Arrays.copyOf(CASES, 4)) {
                Tensor z = BackendParity.rounded(Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 2, rnd), t);
                Tensor lab = labels(c[1], c[0], c[4], c[5]);
                UpLossGrid g = UpLossGrid.of(c[0], c[1], c[2], c[3], c[4], c[5], c[6] == 1, IGNORE);
                String what = t + " " + java.util.Arrays.toString(c);
                float want = BackendParity.reference(new UpsampleSoftmaxCrossEntropy(c[4], c[5], c[6] == 1, IGNORE, null),
                        z, lab).get(0).data()[0];
                double[] partials = new double[2 * g.rowBlocks()];
                assertEquals(-1, HostMath.upCePartial(g.hostGeometry(), z.data().clone(), lab.data().clone(), null, partials, 20261207, dt));
                double loss = 0;
                double total = 0;
                for (int b = 0; b < g.rowBlocks(); b++) {
                    loss += partials[2 * b];
                    total += partials[2 * b + 1];
                }
                assertEquals(want, (float) (loss / total), 1e-6 * Math.abs(want), what + ": loss");
                Tensor dzWant = BackendParity.reference(new UpsampleSoftmaxCrossEntropyBackward(c[4], c[5], c[6] == 1,
                        IGNORE, null), z, lab, Tensor.of(Shape.of(1), 0.7f)).get(0);
                float[] dz = new float[z.data().length];
                java.util.Arrays.fill(dz, Float.NaN);
                HostMath.upCeBackward(g.hostGeometry(), z.data().clone(), lab.data().clone(), null, 0.7f, total, dz, 977, dt);
                BackendParity.assertClose(what + " dz", dz, dzWant, FLOAT_SUMS);
                Tensor mask = BackendParity.reference(new UpsampleArgmax(c[4], c[5], c[6] == 1), z)
                        .get(0);
                float[] out = new float[c[0] * c[4] * c[5]];
                HostMath.upArgmax(g.hostGeometry(), z.data().clone(), out, g.argmaxGridX(), 0, dt);
                assertArrayEquals(mask.data(), out, what + ": the reference mask");
            }
        }
    }

    @Test
    void argmaxEqualsTheReferenceMask() {
        for (int[] c : CASES) {
            Tensor z = Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 2, rnd);
            z.data()[3] = Float.NaN;   // NaN never wins
            if (c[1] > 1) {
                z.data()[c[2] * c[3] + 5] = z.data()[5];   // a tie between classes 0 and 1 at one tap: the first wins
            }
            UpLossGrid g = UpLossGrid.of(c[0], c[1], c[2], c[3], c[4], c[5], c[6] == 1, IGNORE);
            Tensor want = OpRun.run(new UpsampleArgmax(c[4], c[5], c[6] == 1), z.copy()).output(0);
            float[] first = null;
            // one block per row, and 3 blocks striding over the rows
            for (int gx : new int[] {g.argmaxGridX(), 3}) {
                for (long s : SCHEDULES) {
                    float[] out = new float[c[0] * c[4] * c[5]];
                    java.util.Arrays.fill(out, Float.NaN);
                    HostMath.upArgmax(g.hostGeometry(), z.data().clone(), out, gx, s, 0);
                    if (first == null) {
                        first = out;
                    }
                    assertArrayEquals(first, out, java.util.Arrays.toString(c) + ": argmax differs under grid x " + gx + ", schedule " + s);
                }
            }
            assertArrayEquals(want.data(), first, java.util.Arrays.toString(c) + ": the reference mask");
        }
    }

    @Test
    void badLabelIsReportedByItsFirstPixel() {
        Tensor z = Tensor.gaussian(Shape.of(2, 4, 3, 3), 1, rnd);
        int[] l = new int[2 * 12 * 12];
        l[150] = 7;    // not a class of 4, nor the ignore index
        l[200] = -1;
        UpLossGrid g = UpLossGrid.of(2, 4, 3, 3, 12, 12, false, IGNORE);
        long bad = HostMath.upCePartial(g.hostGeometry(), z.data(), Tensor.labels(Shape.of(2, 12, 12), l).data(), null,
                new double[2 * g.rowBlocks()], 20261207, 0);
        assertEquals(150, bad);
    }

    @Test
    void gridsCoverSegmentsAndGroups() {
        UpLossGrid deeplab = UpLossGrid.of(8, 21, 128, 128, 512, 512, false, IGNORE);
        assertEquals(1, deeplab.groups(), "21 classes in one group: " + deeplab);
        assertTrue(deeplab.kg() * deeplab.span() <= UpLossGrid.STAGE && deeplab.kg() * deeplab.segC() <= UpLossGrid.PER * UpLossGrid.BLOCK,
                deeplab.toString());
        assertTrue(deeplab.backwardGridX() * (long) deeplab.backwardGridY() >= 1024, "enough backward blocks: " + deeplab);
        UpLossGrid wide = UpLossGrid.of(1, 3, 6, 70, 24, 280, false, IGNORE);
        assertTrue(wide.segs() > 1, "several segments: " + wide);
        UpLossGrid many = UpLossGrid.of(1, 300, 2, 40, 8, 160, false, IGNORE);
        assertTrue(many.groups() > 1, "several class groups: " + many);
        UpLossGrid xception = UpLossGrid.of(1, 21, 256, 512, 1024, 2048, false, IGNORE);
        assertTrue(xception.span() <= UpLossGrid.MAX_SPAN, xception.toString());
    }
}
