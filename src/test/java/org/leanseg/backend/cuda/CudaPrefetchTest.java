package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.View;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Prefetch on the second stream (Note [Prefetch on a second stream] in {@link CudaBackend}): values
 * taken at prefetch time arrive in the view they are uploaded to, with several prefetches
 * outstanding, slots reused across sizes, and compute-stream work queued in between.
 * Run: {@code mvn -B test -Dgroups=gpu -Dtest=CudaPrefetchTest}.
 */
@Tag("gpu")
class CudaPrefetchTest {
    @Test
    void prefetchedValuesArriveInTheirViews() {
        GpuTests.assumeGpu();
        Random rnd = new Random(9);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            for (int round = 0; round < 20; round++) {
                int n = 1 + rnd.nextInt(300_000);
                List<Tensor> sent = new ArrayList<>();
                List<Backend.Prefetched> handles = new ArrayList<>();
                for (int k = 0; k < 3; k++) {      // three batches ahead
                    Tensor t = Tensor.gaussian(Shape.of(n), 1, rnd);
                    handles.add(gpu.prefetch(t));
                    sent.add(t.copy());
                    t.data()[0] = Float.NaN;        // after prefetch: must not reach the device
                }
                Buffer b = gpu.allocate(4L * n);
                View v = gpu.view(b, 0, TensorSpec.f32(n));
                for (int k = 0; k < 3; k++) {
                    gpu.memset(((CudaView) v).address(), 0xff, 4L * n);   // NaN poison queued on the compute stream first
                    gpu.upload(handles.get(k), v);
                    Tensor back = Tensor.zeros(Shape.of(n));
                    gpu.download(v, back);
                    assertArrayEquals(sent.get(k).data(), back.data(), "round " + round + ", batch " + k + ", " + n + " values");
                }
                gpu.free(b);
                if (round % 5 == 4) {
                    gpu.discard(gpu.prefetch(Tensor.zeros(Shape.of(n))));   // an unused prefetch frees its slot
                }
            }
        }
    }
}
