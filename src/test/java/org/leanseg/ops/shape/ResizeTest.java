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

/** Bilinear resize: values from the MODEL_SPEC formula, gradients, errors. */
class ResizeTest {
    private static float[] resize(Tensor x, int outH, int outW, boolean align) {
        return OpRun.run(new Resize(outH, outW, align), x).output(0).data();
    }

    @Test
    void twoByTwoToThreeByFiveByHand() {
        // rows: scale 2/3 -> src 0, 0.5, 1.1667 (clamped to row 1); cols: scale 2/5 -> src 0, 0.1, 0.5, 0.9, 1.3
        float[] y = resize(Tensor.of(Shape.of(1, 1, 2, 2), 1, 2, 3, 4), 3, 5, false);
        assertArrayEquals(new float[] {
            1.0f, 1.1f, 1.5f, 1.9f, 2.0f,
            2.0f, 2.1f, 2.5f, 2.9f, 3.0f,
            3.0f, 3.1f, 3.5f, 3.9f, 4.0f}, y, 1e-6f);
    }

    @Test
    void fourByFourToTwoByTwoAveragesQuads() {
        // scale 2: src = 0.5 and 2.5, so each output is the mean of a 2x2 block
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) {
            x[i] = i;
        }
        assertArrayEquals(new float[] {2.5f, 4.5f, 10.5f, 12.5f}, resize(Tensor.of(Shape.of(1, 1, 4, 4), x), 2, 2, false), 1e-6f);
    }

    @Test
    void alignCornersByHand() {
        // src = i*(in-1)/(out-1) = 0, 0.5, 1 on both axes
        float[] y = resize(Tensor.of(Shape.of(1, 1, 2, 2), 1, 2, 3, 4), 3, 3, true);
        assertArrayEquals(new float[] {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}, y, 1e-6f);
    }

    @Test
    void oneByOneBroadcasts() {
        float[] y = resize(Tensor.of(Shape.of(1, 2, 1, 1), 7, -3), 2, 3, false);
        assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7, -3, -3, -3, -3, -3, -3}, y);
    }

    /** The MODEL_SPEC formula, written out independently in double. */
    private static double[] expected(Tensor x, int outH, int outW, boolean align) {
        Shape s = x.shape();
        int planes = s.dim(0) * s.dim(1);
        int inH = s.dim(2);
        int inW = s.dim(3);
        double[] y = new double[planes * outH * outW];
        for (int p = 0; p < planes; p++) {
            for (int i = 0; i < outH; i++) {
                for (int j = 0; j < outW; j++) {
                    double sy = align ? (outH > 1 ? i * (inH - 1.0) / (outH - 1) : 0) : Math.max((i + 0.5) * inH / outH - 0.5, 0);
                    double sx = align ? (outW > 1 ? j * (inW - 1.0) / (outW - 1) : 0) : Math.max((j + 0.5) * inW / outW - 0.5, 0);
                    int y0 = (int) Math.floor(sy);
                    int x0 = (int) Math.floor(sx);
                    int y1 = Math.min(y0 + 1, inH - 1);
                    int x1 = Math.min(x0 + 1, inW - 1);
                    double wy = sy - y0;
                    double wx = sx - x0;
                    float[] d = x.data();
                    int b = p * inH * inW;
                    y[(p * outH + i) * outW + j] = (1 - wy) * ((1 - wx) * d[b + y0 * inW + x0] + wx * d[b + y0 * inW + x1])
                            + wy * ((1 - wx) * d[b + y1 * inW + x0] + wx * d[b + y1 * inW + x1]);
                }
            }
        }
        return y;
    }

    @Test
    void randomOddSizesMatchFormula() {
        Random rnd = new Random(31);
        // the last case is large enough for the kernel to split rows over threads
        int[][] cases = {{5, 7, 13, 9}, {9, 11, 4, 3}, {3, 3, 3, 3}, {1, 4, 6, 1}, {7, 5, 8, 10}, {9, 7, 50, 60}};
        for (int[] k : cases) {
            for (boolean align : new boolean[] {false, true}) {
                Tensor x = Tensor.uniform(Shape.of(2, 3, k[0], k[1]), -1, 1, rnd);
                double[] e = expected(x, k[2], k[3], align);
                float[] y = resize(x, k[2], k[3], align);
                for (int i = 0; i < e.length; i++) {
                    assertEquals(e[i], y[i], 1e-6, "case " + java.util.Arrays.toString(k) + " align " + align + " at " + i);
                }
            }
        }
    }

    @Test
    void gradientsUpAndDown() {
        Random rnd = new Random(32);
        int[][] cases = {{3, 5, 7, 11}, {9, 7, 4, 3}, {5, 5, 5, 8}, {1, 1, 3, 2}};
        for (int[] k : cases) {
            for (boolean align : new boolean[] {false, true}) {
                new GradCheck().tolerance(3e-3).maxPerInput(40).input(Tensor.uniform(Shape.of(2, 2, k[0], k[1]), -1, 1, rnd))
                        .check("resize " + java.util.Arrays.toString(k) + " align " + align,
                                (g, in) -> List.of(g.apply1(new Resize(k[2], k[3], align), in.get(0))));
            }
        }
    }

    @Test
    void backwardIsTheAdjointOnLargePlanes() {
        // <resize(x), dy> == <x, resize_backward(dy)>; 6 planes of 50x60 split over threads
        Random rnd = new Random(33);
        for (boolean align : new boolean[] {false, true}) {
            Tensor x = Tensor.uniform(Shape.of(2, 3, 9, 7), -1, 1, rnd);
            Tensor dy = Tensor.uniform(Shape.of(2, 3, 50, 60), -1, 1, rnd);
            float[] y = resize(x, 50, 60, align);
            float[] dx = OpRun.run(new ResizeBackward(9, 7, align), dy).output(0).data();
            double lhs = 0;
            for (int i = 0; i < y.length; i++) {
                lhs += (double) y[i] * dy.data()[i];
            }
            double rhs = 0;
            for (int i = 0; i < dx.length; i++) {
                rhs += (double) x.data()[i] * dx[i];
            }
            assertEquals(lhs, rhs, 1e-4 * Math.max(1, Math.abs(lhs)), "align " + align);
        }
    }

    @Test
    void badInputNamesOpStageAndShape() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(2, 3, 4));
        GraphException e;
        try (var s = g.scope("decoder")) {
            e = assertThrows(GraphException.class, () -> g.apply1(Resize.to(8, 8), x));
        }
        String m = e.getMessage();
        assertTrue(m.contains("resize_bilinear") && m.contains("decoder") && m.contains("[2, 3, 4]"), m);
        assertThrows(IllegalArgumentException.class, () -> new Resize(0, 3, false));
    }
}
