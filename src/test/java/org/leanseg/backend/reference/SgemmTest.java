package org.leanseg.backend.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Sgemm} against a double-precision triple loop, with transposed operands and odd sizes. */
class SgemmTest {
    private static float[] random(int n, Random rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return a;
    }

    /** C = A*B (+ C0) with A stored transposed ([k x m]) and B row-major, sizes off every tile size. */
    @Test
    void matchesTripleLoopInDouble() {
        Random rnd = new Random(7);
        int[][] sizes = {{1, 1, 1}, {5, 3, 7}, {67, 261, 131}, {130, 70, 257}, {9, 513, 4}};
        for (int[] s : sizes) {
            int m = s[0], n = s[1], k = s[2];
            float[] at = random(k * m, rnd);
            float[] b = random(k * n, rnd);
            float[] c0 = random(m * n + 3, rnd);
            for (boolean accumulate : new boolean[] {false, true}) {
                float[] c = c0.clone();
                Sgemm.run(new Sgemm.Problem(m, n, k, new Sgemm.Strided(at, 0, 1, m), new Sgemm.Strided(b, 0, n, 1), c, 3, n), accumulate);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double ref = accumulate ? c0[3 + i * n + j] : 0;
                        double abs = Math.abs(ref);
                        for (int p = 0; p < k; p++) {
                            ref += (double) at[p * m + i] * b[p * n + j];
                            abs += Math.abs((double) at[p * m + i] * b[p * n + j]);
                        }
                        float got = c[3 + i * n + j];
                        assertTrue(Math.abs(got - ref) <= 1e-5 * abs + 1e-7, m + "x" + n + "x" + k + " C[" + i + "," + j + "] = " + got + ", expected " + ref);
                    }
                }
                assertTrue(c[0] == c0[0] && c[1] == c0[1] && c[2] == c0[2], "wrote before cOffset");
            }
        }
    }

    /** Tiles are sized from the thread count; the bits of the result must not depend on it. */
    @Test
    void resultDoesNotDependOnTiling() {
        Random rnd = new Random(9);
        int m = 70, n = 300, k = 300;
        float[] a = random(m * k, rnd);
        float[] b = random(k * n, rnd);
        float[] reference = null;
        for (int threads : new int[] {1, 2, 3, 8, 64}) {
            float[] c = new float[m * n];
            Sgemm.run(List.of(new Sgemm.Problem(m, n, k, new Sgemm.Strided(a, 0, k, 1), new Sgemm.Strided(b, 0, n, 1), c, 0, n)), false, threads);
            if (reference == null) {
                reference = c;
            } else {
                assertArrayEquals(reference, c, "threads " + threads);
            }
        }
    }
}
