package org.leanseg.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * {@link Executor#prefetch}: a run fed the prefetched tensor objects places the values taken at
 * prefetch time (the next batch is handed over before the current step runs); other tensors upload
 * as usual; bad feeds are refused at prefetch already.
 */
class PrefetchTest {
    private static final Shape S = Shape.of(2, 3);

    @Test
    void runUsesTheValuesTakenAtPrefetch() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(2, 3));
        Value y = g.apply1(Activation.relu(), x);
        g.markOutput(y);
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            Tensor next = Tensor.of(S, 1f, -2f, 3f, -4f, 5f, -6f);
            Tensor later = Tensor.of(S, -1f, 2f, -3f, 4f, -5f, 6f);
            ex.prefetch(Map.of(x, next));
            ex.prefetch(Map.of(x, later));           // two batches ahead: each kept for its own run
            next.data()[0] = 100f;                   // after prefetch: the prefetched values stand
            ex.run(Map.of(x, next));
            assertArrayEquals(new float[] {1f, 0f, 3f, 0f, 5f, 0f}, ex.read(y).data());
            ex.run(Map.of(x, later));
            assertArrayEquals(new float[] {0f, 2f, 0f, 4f, 0f, 6f}, ex.read(y).data());
            ex.run(Map.of(x, next));                 // consumed: a plain upload of today's values
            assertArrayEquals(new float[] {100f, 0f, 3f, 0f, 5f, 0f}, ex.read(y).data());
            Tensor fresh = Tensor.of(S, 7f, 7f, -7f, 7f, 7f, 7f);
            ex.run(Map.of(x, fresh));                // never prefetched
            assertArrayEquals(new float[] {7f, 7f, 0f, 7f, 7f, 7f}, ex.read(y).data());
            ex.prefetch(Map.of(x, fresh));           // left unused: discarded at close
        }
    }

    @Test
    void badFeedsAreRefusedAtPrefetch() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(2, 3));
        Value other = new Graph().input("z", TensorSpec.f32(2, 3));
        g.markOutput(g.apply1(Activation.relu(), x));
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ex.prefetch(Map.of(x, Tensor.zeros(Shape.of(3, 2)))));
            assertTrue(e.getMessage().contains("expects shape [2, 3], got [3, 2]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> ex.prefetch(Map.of(other, Tensor.zeros(S))));
            assertTrue(e.getMessage().contains("is not an input of this graph"), e.getMessage());
        }
    }
}
