package org.leanseg.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.Tensor;

/**
 * The shared parity cases are well formed, checked on every machine: every row of the op table, and
 * every variant name of a row, has at least one case (so no backend kernel goes unchecked), every
 * case runs on the reference backend through {@link BackendParity} with finite results, and the
 * in-place ops give the same results with their outputs on their inputs' buffers. So a GPU session spends its minutes on the kernels.
 */
class ParityCasesTest {
    @Test
    void everyOpTableRowHasACase() {
        Set<Class<?>> covered = new HashSet<>();
        for (ParityCases.Case c : ParityCases.all(new Random(1))) {
            covered.add(c.op().getClass());
        }
        List<String> missing = new ArrayList<>();
        for (Ops.Entry<?> e : Ops.table()) {
            if (!covered.contains(e.type())) {
                missing.add(e.names());
            }
        }
        assertTrue(missing.isEmpty(), "op table rows without a parity case: " + missing);
    }

    /** Variants are attributes of one row (BatchNorm's mode, a backward's source): each needs its own case. */
    @Test
    void everyVariantOfEveryRowHasACase() {
        Set<String> covered = new HashSet<>();
        for (ParityCases.Case c : ParityCases.all(new Random(1))) {
            covered.add(c.op().name());
            Ops.entry(c.op()).cell(org.leanseg.ops.Device.REFERENCE, c.op().name()); // the name is one of its row's
        }
        List<String> missing = new ArrayList<>();
        for (Ops.Entry<?> e : Ops.table()) {
            for (String name : e.variants()) {
                if (!covered.contains(name)) {
                    missing.add(name);
                }
            }
        }
        assertTrue(missing.isEmpty(), "op table variants without a parity case: " + missing);
    }

    @Test
    void everyCaseRunsOnTheReferenceBackendPlainAndAliased() {
        List<ParityCases.Case> cases = ParityCases.all(new Random(3));
        int aliased = 0;
        for (ParityCases.Case c : cases) {
            List<Tensor> plain = BackendParity.run(new ReferenceBackend(), c.op(), c.inputs(), false);
            for (Tensor t : plain) {
                for (float v : t.data()) {
                    assertTrue(Float.isFinite(v), c.name() + ": non-finite result " + v);
                }
            }
            int outputs = c.op().infer(c.inputs().stream().map(Tensor::spec).toList()).size();
            if (BackendParity.hasInPlaceOutput(c)) {
                aliased++;
                List<Tensor> inPlace = BackendParity.run(new ReferenceBackend(), c.op(), c.inputs(), true);
                for (int i = 0; i < outputs; i++) {
                    assertEquals(0, BackendParity.relativeError(inPlace.get(i), plain.get(i), 1e-3), 1e-6, c.name() + " aliased output " + i);
                }
            }
        }
        assertTrue(aliased >= 5, "in-place cases: " + aliased);
    }
}
