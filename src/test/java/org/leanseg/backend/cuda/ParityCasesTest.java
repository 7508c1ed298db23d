package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.tensor.Tensor;

/**
 * The gpu parity cases are well formed, checked without a GPU: every case of {@link ParityCases} runs
 * on the reference backend through {@link CudaOpsParityTest}'s harness with finite results, and the
 * in-place ops give the same results with their outputs on their inputs' buffers. So a GPU session
 * spends its minutes on the kernels, not on the cases.
 */
class ParityCasesTest {
    @Test
    void everyCaseRunsOnTheReferenceBackendPlainAndAliased() {
        List<ParityCases.Case> cases = ParityCases.all(new Random(3));
        int aliased = 0;
        for (ParityCases.Case c : cases) {
            List<Tensor> plain = CudaOpsParityTest.run(new ReferenceBackend(), c.op(), c.inputs());
            for (Tensor t : plain) {
                for (float v : t.data()) {
                    assertTrue(Float.isFinite(v), c.name() + ": non-finite result " + v);
                }
            }
            int outputs = c.op().infer(c.inputs().stream().map(Tensor::spec).toList()).size();
            if (CudaOpsParityTest.hasInPlaceOutput(c.op(), outputs)) {
                aliased++;
                List<Tensor> inPlace = CudaOpsParityTest.run(new ReferenceBackend(), c.op(), c.inputs(), true);
                for (int i = 0; i < outputs; i++) {
                    assertEquals(0, GpuTests.relativeError(inPlace.get(i), plain.get(i), 1e-3), 1e-6, c.name() + " aliased output " + i);
                }
            }
        }
        assertTrue(aliased >= 5, "in-place cases: " + aliased);
    }
}
