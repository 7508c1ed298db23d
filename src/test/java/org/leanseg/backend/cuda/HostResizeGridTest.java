package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;
import org.leanseg.ops.shape.ShapeCuda;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.BackendParity;
import org.leanseg.testing.OpRun;

/**
 * The row-band resize kernels of src/main/cuda/resize_grid.cuh (Note [Resize by row bands]) run whole on the CPU over
 * the grids ops/shape/ShapeCuda launches, every block and every one of its 256 threads as fibers, barriers kept
 * (src/main/cpp/hostgrid.h), under three schedules (index order; shuffled; shuffled with grid y cut to 2 so the
 * kernels stride over planes) with bitwise-equal results. Against the reference ops on fresh random inputs: the
 * forward bit for bit (the same arithmetic), the backward within {@link #FLOAT_SUMS} of its largest magnitude (the
 * bound CudaOpsParityTest uses). Shapes: x4 as DeepLabV3+'s decoder, odd sizes, a downscale, align_corners, rows
 * wider than the block (several columns per thread), a single output row. Run: {@code mvn -B -q test -Dtest=HostResizeGridTest}.
 */
class HostResizeGridTest {
    private static final double FLOAT_SUMS = 1e-5;
    private static final long[][] SCHEDULES = {{0, 0}, {20261207, 0}, {977, 2}};
    private final Random rnd = new Random(20261209);

    @BeforeEach
    void needsLibrary() {
        Assumptions.assumeTrue(HostMath.available(), HostMath::unavailableReason);
    }

    /** {planes, inH, inW, outH, outW, alignCorners}. */
    private static final int[][] CASES = {
        {3, 8, 8, 32, 32, 0},        // x4, DeepLabV3+'s decoder
        {2, 5, 7, 13, 9, 0},         // odd sizes
        {3, 9, 8, 5, 6, 0},          // a downscale
        {2, 4, 3, 13, 11, 1},        // align_corners
        {1, 2, 300, 4, 1200, 0},     // rows wider than the block: several input columns per thread
        {2, 3, 5, 1, 7, 0},          // one output row
    };

    private static float[] run(String what, boolean backward, int[] c, float[] src, int outLen) {
        return run(what, backward, c, src, outLen, 0);
    }

    /** With source and destination in storage type code {@code dt} (1 bfloat16, 2 binary16; Note [Mixed precision]). */
    private static float[] run(String what, boolean backward, int[] c, float[] src, int outLen, int dt) {
        float[] first = null;
        for (long[] s : SCHEDULES) {
            float[] dst = new float[outLen];
            java.util.Arrays.fill(dst, Float.NaN);   // every element must be written
            HostMath.resizeRows(backward, c[0], c[1], c[2], c[3], c[4], c[5] == 1, src.clone(), dst, (int) s[1], s[0], dt);
            if (first == null) {
                first = dst;
            } else {
                assertArrayEquals(first, dst, what + ": differs under schedule " + s[0] + " / grid y " + s[1]);
            }
        }
        return first;
    }

    @Test
    void forwardEqualsTheReferenceBitForBit() {
        for (int[] c : CASES) {
            String what = "resize " + java.util.Arrays.toString(c);
            assertTrue(ShapeCuda.byRows(c[0], c[2], c[4]), what + " takes the row-band kernels");
            Tensor x = Tensor.gaussian(Shape.of(1, c[0], c[1], c[2]), 1, rnd);
            Tensor want = OpRun.run(new Resize(c[3], c[4], c[5] == 1), x.copy()).output(0);
            float[] got = run(what, false, c, x.data(), c[0] * c[3] * c[4]);
            assertArrayEquals(want.data(), got, what);
        }
    }

    @Test
    void backwardMatchesTheReference() {
        for (int[] c : CASES) {
            String what = "resize backward " + java.util.Arrays.toString(c);
            Tensor dy = Tensor.gaussian(Shape.of(1, c[0], c[3], c[4]), 1, rnd);
            Tensor want = OpRun.run(new ResizeBackward(c[1], c[2], c[5] == 1), dy.copy()).output(0);
            float[] got = run(what, true, c, dy.data(), c[0] * c[1] * c[2]);
            double e = GpuTests.relativeError(Tensor.of(want.spec().shape(), got), want, 1e-3);
            assertTrue(e <= FLOAT_SUMS, what + ": relative error " + e + " > " + FLOAT_SUMS);
        }
    }

    /**
     * On bf16 and fp16 data (Note [Mixed precision]): the forward still bit for bit equal to the reference's 16-bit
     * emulation (the same arithmetic, then one rounding); the backward within FLOAT_SUMS plus one unit in the last
     * place, at most 1 element in 50 (plus one) not the reference's 16-bit value.
     */
    @Test
    void sixteenBitDataMatchesTheReferenceEmulation() {
        for (org.leanseg.tensor.DType t : new org.leanseg.tensor.DType[] {org.leanseg.tensor.DType.BF16, org.leanseg.tensor.DType.F16}) {
            int dt = t == org.leanseg.tensor.DType.BF16 ? 1 : 2;
            for (int[] c : CASES) {
                String what = t + " resize " + java.util.Arrays.toString(c);
                Tensor x = BackendParity.rounded(Tensor.gaussian(Shape.of(1, c[0], c[1], c[2]), 1, rnd), t);
                Tensor want = BackendParity.reference(new Resize(c[3], c[4], c[5] == 1), x).get(0);
                assertArrayEquals(want.data(), run(what, false, c, x.data(), c[0] * c[3] * c[4], dt), what);
                Tensor dy = BackendParity.rounded(Tensor.gaussian(Shape.of(1, c[0], c[3], c[4]), 1, rnd), t);
                Tensor wantDx = BackendParity.reference(new ResizeBackward(c[1], c[2], c[5] == 1), dy).get(0);
                float[] got = run(what + " backward", true, c, dy.data(), c[0] * c[1] * c[2], dt);
                BackendParity.assertClose(what + " backward", got, wantDx, FLOAT_SUMS);
            }
        }
    }
}
