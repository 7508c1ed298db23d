package org.leanseg.ops.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.OpRun;

/** Argmax over the class dimension: values, ties, output type. */
class ArgmaxTest {
    @Test
    void firstMaximumWins() {
        // [1, 3, 1, 4]: pixel columns (k0, k1, k2) = (1,5,2), (3,3,0), (0,0,0), (-1,-2,4)
        Tensor z = Tensor.of(Shape.of(1, 3, 1, 4), 1, 3, 0, -1, 5, 3, 0, -2, 2, 0, 0, 4);
        Tensor y = OpRun.run(new Argmax(), z).output(0);
        assertEquals(DType.I32, y.dtype());
        assertEquals(Shape.of(1, 1, 4), y.shape());
        assertArrayEquals(new float[] {1, 0, 0, 2}, y.data());
    }

    @Test
    void batchAndRows() {
        Tensor z = Tensor.zeros(Shape.of(2, 2, 2, 1));
        z.set(1f, 0, 1, 1, 0);
        z.set(1f, 1, 1, 0, 0);
        assertArrayEquals(new float[] {0, 1, 1, 0}, OpRun.run(new Argmax(), z).output(0).data());
    }

    @Test
    void largeInputMatchesLoop() {
        // [4, 2, 128, 32]: enough rows for the kernel to split over threads
        Tensor z = Tensor.uniform(Shape.of(4, 2, 128, 32), -1, 1, new java.util.Random(71));
        float[] y = OpRun.run(new Argmax(), z).output(0).data();
        int plane = 128 * 32;
        for (int n = 0; n < 4; n++) {
            for (int i = 0; i < plane; i++) {
                int expected = z.data()[(n * 2 + 1) * plane + i] > z.data()[n * 2 * plane + i] ? 1 : 0;
                assertEquals(expected, y[n * plane + i]);
            }
        }
    }

    @Test
    void rejectsNonNchw() {
        Graph g = new Graph();
        assertThrows(GraphException.class, () -> g.apply1(new Argmax(), g.input("z", TensorSpec.f32(2, 3))));
    }
}
