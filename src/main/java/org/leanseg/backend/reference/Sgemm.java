package org.leanseg.backend.reference;

import java.util.List;

/**
 * Single-precision matrix multiply for the reference backend, in plain Java:
 * {@code C[m x n] (+)= A[m x k] * B[k x n]} for a batch of independent problems.
 *
 * <p>Blocking (after Goto and van de Geijn, "Anatomy of high-performance matrix multiplication"):
 * C is split into tiles of at most {@code MC x NC}; each tile walks k in chunks of {@link #KC}, packs
 * its A block row-major and its B panel into separate row arrays, and updates one C row at a time
 * from four B rows at once. The tiles run in parallel through {@link Parallel}.
 *
 * <p>Why the kernel looks the way it does: HotSpot C2 (JDK 17) auto-vectorises
 * {@code t[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]} when every array is indexed by plain
 * {@code j} and only one array is stored; offsets inside the index or several stored arrays make it
 * fall back to scalar code (measured: 2-5 GFLOP/s instead of ~35 on one core). Hence B rows are
 * separate arrays and each C row is staged through a zero-offset buffer.
 *
 * <p>Results do not depend on the thread count: every element of C is computed by the same sequence
 * of float operations (chunks of {@code KC} in order, groups of four k in order), whatever the tiling.
 * Sources of A and B may be implicit (im2col): see {@link Source}.
 */
public final class Sgemm {
    /** The k chunk. Fixed: it decides the order of additions, so it must not depend on the machine. */
    public static final int KC = 128;
    /** Largest C tile: {@code MC} rows by {@code NC} columns (tiles may be smaller for load balance). */
    static final int MC = 64;
    static final int NC = 256;
    private static final int MIN_NC = 64;
    private static final int MIN_MC = 8;

    private Sgemm() {
    }

    /** Something that can copy a block of a (possibly implicit) matrix into packed buffers. */
    public interface Source {
        /** Copies rows {@code [r0, r0+nr)}, columns {@code [c0, c0+nc)} into {@code dst[r][dOff..dOff+nc)} (the B side). */
        void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff);

        /** Copies the same block row-major into {@code dst[dOff + r*ld + c]} (the A side). */
        void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld);

        /** {@link #packRows(int, int, int, int, float[][], int)} from column 0 of {@code dst}. */
        default void packRows(int r0, int nr, int c0, int nc, float[][] dst) {
            packRows(r0, nr, c0, nc, dst, 0);
        }

        /** {@link #packFlat(int, int, int, int, float[], int, int)} densely: {@code dst[r*nc + c]}. */
        default void packFlat(int r0, int nr, int c0, int nc, float[] dst) {
            packFlat(r0, nr, c0, nc, dst, 0, nc);
        }
    }

    /** A dense matrix view {@code M(r, c) = data[offset + r*rowStride + c*colStride]}; transposes are strides. */
    public record Strided(float[] data, int offset, int rowStride, int colStride) implements Source {
        @Override
        public void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff) {
            for (int r = 0; r < nr; r++) {
                copyRow(r0 + r, c0, nc, dst[r], dOff);
            }
        }

        @Override
        public void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld) {
            for (int r = 0; r < nr; r++) {
                copyRow(r0 + r, c0, nc, dst, dOff + r * ld);
            }
        }

        private void copyRow(int r, int c0, int nc, float[] dst, int at) {
            int base = offset + r * rowStride + c0 * colStride;
            if (colStride == 1) {
                System.arraycopy(data, base, dst, at, nc);
            } else {
                for (int c = 0; c < nc; c++) {
                    dst[at + c] = data[base + c * colStride];
                }
            }
        }
    }

    /**
     * Several matrices of equal height side by side: column {@code q} is column {@code q % width}
     * of {@code parts[q / width]}. Batches small per-image GEMMs into one wide one.
     */
    public record Columns(Source[] parts, int width) implements Source {
        @Override
        public void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff) {
            for (int q = c0; q < c0 + nc; ) {
                int part = q / width;
                int len = Math.min(width - q % width, c0 + nc - q);
                parts[part].packRows(r0, nr, q % width, len, dst, dOff + q - c0);
                q += len;
            }
        }

        @Override
        public void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld) {
            for (int q = c0; q < c0 + nc; ) {
                int part = q / width;
                int len = Math.min(width - q % width, c0 + nc - q);
                parts[part].packFlat(r0, nr, q % width, len, dst, dOff + q - c0, ld);
                q += len;
            }
        }
    }

    /** Several matrices of equal width stacked: row {@code r} is row {@code r % height} of {@code parts[r / height]}. */
    public record Rows(Source[] parts, int height) implements Source {
        @Override
        public void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff) {
            for (int r = r0; r < r0 + nr; ) {
                int len = Math.min(height - r % height, r0 + nr - r);
                float[][] sub = r == r0 ? dst : java.util.Arrays.copyOfRange(dst, r - r0, r - r0 + len);
                parts[r / height].packRows(r % height, len, c0, nc, sub, dOff);
                r += len;
            }
        }

        @Override
        public void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld) {
            for (int r = r0; r < r0 + nr; ) {
                int len = Math.min(height - r % height, r0 + nr - r);
                parts[r / height].packFlat(r % height, len, c0, nc, dst, dOff + (r - r0) * ld, ld);
                r += len;
            }
        }
    }

    /** One product {@code C = A*B} (or {@code C += A*B}); C is row-major at {@code cOffset} with row stride {@code ldc}. */
    public record Problem(int m, int n, int k, Source a, Source b, float[] c, int cOffset, int ldc) {
        public Problem {
            if (m < 0 || n < 0 || k < 0) {
                throw new IllegalArgumentException("negative gemm size " + m + "x" + n + "x" + k);
            }
        }

        long flops() {
            return 2L * m * n * k;
        }
    }

    /** Per-thread packing buffers, sized once for the largest tile. */
    private static final class Workspace {
        final float[][] b = new float[KC][NC];
        final float[] a = new float[MC * KC];
        final float[] row = new float[NC];
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    /** Runs one problem; see {@link #run(List, boolean)}. */
    public static void run(Problem p, boolean accumulate) {
        run(List.of(p), accumulate);
    }

    /**
     * Runs independent problems (distinct C regions) in parallel. With {@code accumulate} C is
     * added to, otherwise overwritten.
     */
    public static void run(List<Problem> problems, boolean accumulate) {
        run(problems, accumulate, Parallel.threads());
    }

    /** As {@link #run(List, boolean)}, with tiles sized for {@code threads} (tests vary it: results must not change). */
    static void run(List<Problem> problems, boolean accumulate, int threads) {
        int mc = MC;
        int nc = NC;
        while (tiles(problems, mc, nc) < 4L * threads && nc > MIN_NC) {
            nc /= 2;
        }
        while (tiles(problems, mc, nc) < 4L * threads && mc > MIN_MC) {
            mc /= 2;
        }
        long total = tiles(problems, mc, nc);
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("gemm batch too large: " + total + " tiles");
        }
        int[] first = new int[problems.size() + 1];
        for (int i = 0; i < problems.size(); i++) {
            Problem p = problems.get(i);
            first[i + 1] = first[i] + ceilDiv(p.m, mc) * ceilDiv(p.n, nc);
        }
        final int tileM = mc;
        final int tileN = nc;
        Parallel.range(first[problems.size()], 1, (lo, hi) -> {
            int pi = 0;
            for (int t = lo; t < hi; t++) {
                while (t >= first[pi + 1]) {
                    pi++;
                }
                Problem p = problems.get(pi);
                int local = t - first[pi];
                int nPanels = ceilDiv(p.n, tileN);
                int i0 = (local / nPanels) * tileM;
                int j0 = (local % nPanels) * tileN;
                tile(p, i0, Math.min(tileM, p.m - i0), j0, Math.min(tileN, p.n - j0), accumulate);
            }
        });
    }

    private static long tiles(List<Problem> problems, int mc, int nc) {
        long t = 0;
        for (Problem p : problems) {
            t += (long) ceilDiv(p.m, mc) * ceilDiv(p.n, nc);
        }
        return t;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** One C tile: rows [i0, i0+mc), columns [j0, j0+nc). */
    private static void tile(Problem p, int i0, int mc, int j0, int nc, boolean accumulate) {
        Workspace ws = WORKSPACE.get();
        float[] row = ws.row;
        if (p.k == 0 && !accumulate) {
            for (int i = 0; i < mc; i++) {
                java.util.Arrays.fill(p.c, p.cOffset + (i0 + i) * p.ldc + j0, p.cOffset + (i0 + i) * p.ldc + j0 + nc, 0f);
            }
            return;
        }
        for (int k0 = 0; k0 < p.k; k0 += KC) {
            int kc = Math.min(KC, p.k - k0);
            p.b.packRows(k0, kc, j0, nc, ws.b);
            p.a.packFlat(i0, mc, k0, kc, ws.a);
            for (int i = 0; i < mc; i++) {
                int cRow = p.cOffset + (i0 + i) * p.ldc + j0;
                if (k0 == 0 && !accumulate) {
                    java.util.Arrays.fill(row, 0, nc, 0f);
                } else {
                    System.arraycopy(p.c, cRow, row, 0, nc);
                }
                rowTimesPanel(kc, nc, ws.a, i * kc, ws.b, row);
                System.arraycopy(row, 0, p.c, cRow, nc);
            }
        }
    }

    /** {@code t[0..nc) += sum_k a[ao+k] * b[k][0..nc)}, four k at a time. */
    static void rowTimesPanel(int kc, int nc, float[] a, int ao, float[][] b, float[] t) {
        int k = 0;
        for (; k + 4 <= kc; k += 4) {
            axpy4(nc, a[ao + k], a[ao + k + 1], a[ao + k + 2], a[ao + k + 3], b[k], b[k + 1], b[k + 2], b[k + 3], t);
        }
        for (; k < kc; k++) {
            axpy1(nc, a[ao + k], b[k], t);
        }
    }

    private static void axpy4(int n, float a0, float a1, float a2, float a3,
                              float[] b0, float[] b1, float[] b2, float[] b3, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
        }
    }

    private static void axpy1(int n, float a0, float[] b0, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a0 * b0[j];
        }
    }
}
