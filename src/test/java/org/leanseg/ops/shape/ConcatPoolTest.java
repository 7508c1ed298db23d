package org.leanseg.ops.shape;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.OpRun;

/** Channel concat, channel slice and global average pooling: values, gradients, errors. */
class ConcatPoolTest {
    @Test
    void concatOrdersChannelsByInput() {
        // a: [2,1,1,2], b: [2,2,1,2]
        Tensor a = Tensor.of(Shape.of(2, 1, 1, 2), 1, 2, 3, 4);
        Tensor b = Tensor.of(Shape.of(2, 2, 1, 2), 10, 11, 12, 13, 14, 15, 16, 17);
        OpRun.Result r = OpRun.run(new Concat(), a, b);
        assertEquals(Shape.of(2, 3, 1, 2), r.output(0).shape());
        assertArrayEquals(new float[] {1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17}, r.output(0).data());
        Tensor back = OpRun.run(new ChannelSlice(1, 2), r.output(0)).output(0);
        assertArrayEquals(b.data(), back.data());
    }

    @Test
    void largeConcatAndSliceRoundTrip() {
        // 2 x 700 planes: enough for the kernels to split planes over threads
        Random rnd = new Random(43);
        Tensor a = Tensor.uniform(Shape.of(2, 300, 4, 4), -1, 1, rnd);
        Tensor b = Tensor.uniform(Shape.of(2, 400, 4, 4), -1, 1, rnd);
        Tensor y = OpRun.run(new Concat(), a, b).output(0);
        for (int n = 0; n < 2; n++) {
            for (int c = 0; c < 700; c++) {
                for (int i = 0; i < 16; i++) {
                    float expected = c < 300 ? a.data()[(n * 300 + c) * 16 + i] : b.data()[(n * 400 + c - 300) * 16 + i];
                    assertEquals(expected, y.data()[(n * 700 + c) * 16 + i]);
                }
            }
        }
        assertArrayEquals(a.data(), OpRun.run(new ChannelSlice(0, 300), y).output(0).data());
        assertArrayEquals(b.data(), OpRun.run(new ChannelSlice(300, 400), y).output(0).data());
    }

    @Test
    void concatGradientsOfThreeInputs() {
        Random rnd = new Random(41);
        new GradCheck().tolerance(3e-3).input(Tensor.uniform(Shape.of(2, 3, 5, 3), -1, 1, rnd))
                .input(Tensor.uniform(Shape.of(2, 1, 5, 3), -1, 1, rnd))
                .input(Tensor.uniform(Shape.of(2, 4, 5, 3), -1, 1, rnd))
                .check("concat3", (g, in) -> List.of(g.apply1(new Concat(), in.toArray(new Value[0]))));
    }

    @Test
    void concatRejectsMismatchedPlanes() {
        Graph g = new Graph();
        Value a = g.input("a", TensorSpec.f32(2, 3, 8, 8));
        Value b = g.input("b", TensorSpec.f32(2, 5, 8, 7));
        GraphException e;
        try (var s = g.scope("aspp")) {
            e = assertThrows(GraphException.class, () -> g.apply1(new Concat(), a, b));
        }
        String m = e.getMessage();
        assertTrue(m.contains("concat") && m.contains("aspp") && m.contains("[2, 3, 8, 8]") && m.contains("[2, 5, 8, 7]"), m);
        assertThrows(GraphException.class, () -> g.apply1(new Concat(), a));
        assertThrows(GraphException.class, () -> g.apply1(new ChannelSlice(2, 2), a));
    }

    @Test
    void globalAvgPoolValuesAndGradients() {
        Tensor x = Tensor.of(Shape.of(1, 2, 1, 3), 1, 2, 6, -1, -2, 0);
        assertArrayEquals(new float[] {3, -1}, OpRun.run(new GlobalAvgPool(), x).output(0).data(), 1e-7f);
        Random rnd = new Random(42);
        Tensor big = Tensor.uniform(Shape.of(2, 2000, 3, 3), -1, 1, rnd);
        float[] pooled = OpRun.run(new GlobalAvgPool(), big).output(0).data();
        for (int p = 0; p < 4000; p++) {
            double sum = 0;
            for (int i = 0; i < 9; i++) {
                sum += big.data()[p * 9 + i];
            }
            assertEquals(sum / 9, pooled[p], 1e-6);
        }
        float[] spread = OpRun.run(new GlobalAvgPoolBackward(3, 3), Tensor.of(Shape.of(2, 2000, 1, 1), pooled)).output(0).data();
        for (int i = 0; i < spread.length; i++) {
            assertEquals(pooled[i / 9] / 9.0, spread[i], 1e-7);
        }
        for (Shape s : List.of(Shape.of(2, 3, 5, 7), Shape.of(3, 1, 1, 1), Shape.of(1, 4, 9, 2))) {
            new GradCheck().tolerance(3e-3).input(Tensor.uniform(s, -1, 1, rnd))
                    .check("global_avg_pool " + s, (g, in) -> List.of(g.apply1(new GlobalAvgPool(), in.get(0))));
        }
    }
}
