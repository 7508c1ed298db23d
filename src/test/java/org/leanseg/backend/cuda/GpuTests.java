package org.leanseg.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.leanseg.tensor.Tensor;

/** Helpers of the {@code gpu} tests: the one-line skip and the relative-error comparison (NaN never passes). */
public final class GpuTests {
    private GpuTests() {
    }

    /** Skips the calling test with the probe's one-line reason where no GPU is usable. */
    public static void assumeGpu() {
        CudaProbe.Result r = CudaProbe.result();
        Assumptions.assumeTrue(r.usable(), "no usable GPU: " + r.reason());
    }

    /**
     * max |gpu - ref| / max(max |ref|, floor); +infinity when the GPU value is NaN or infinite where
     * the reference is finite (poisoned outputs that a kernel failed to write end up here).
     */
    public static double relativeError(Tensor gpu, Tensor ref, double floor) {
        float[] a = gpu.data();
        float[] b = ref.data();
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i]) && Float.isFinite(b[i])) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max / Math.max(ref.maxAbs(), floor);
    }
}
