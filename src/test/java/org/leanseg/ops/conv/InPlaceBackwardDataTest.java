package org.leanseg.ops.conv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.Vjp;

/**
 * Note [Data gradient over its input gradient]: {@code conv2d_backward_data_inplace} against the
 * plain data gradient (to float rounding), the same bits whether dX shares dY's buffer or not and
 * whatever the band height (bands of 1 and 2 rows force the halo copies), and its shape rule.
 * Run: {@code mvn -q test -Dtest=InPlaceBackwardDataTest}.
 */
class InPlaceBackwardDataTest {
    /** {n, c, h, w, k, pad, dil}: 3x3 "same", dilated 3x3 (halo 4), 1x1 (no halo), 5x5. */
    private static final int[][] CASES = {{2, 6, 9, 7, 3, 1, 1}, {1, 5, 12, 6, 3, 2, 2}, {2, 8, 5, 5, 1, 0, 1}, {1, 4, 7, 9, 5, 2, 1}};

    @Test
    void equalsThePlainDataGradientWhetherOrNotItOverwritesDy() {
        Random rnd = new Random(5);
        for (int[] c : CASES) {
            Conv2d conv = Conv2d.of(1, c[5], c[6], 1);
            Tensor dy = Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 1, rnd);
            Tensor w = Tensor.gaussian(Shape.of(c[1], c[1], c[4], c[4]), 0.5, rnd);
            Conv2dBackwardData plain = new Conv2dBackwardData(conv, c[2], c[3]);
            Conv2dBackwardData inPlace = plain.overItsInput();
            assertTrue(plain.canRunOverItsInput(List.of(dy.spec(), w.spec())));
            RefView[] in = {view(dy.data().clone(), dy.spec()), view(w.data(), w.spec())};
            float[] want = new float[dy.data().length];
            Conv2dBackwardData.reference(plain, in, new RefView[] {view(want, dy.spec())});
            float[] separate = new float[want.length];
            Conv2dBackwardData.reference(inPlace, in, new RefView[] {view(separate, dy.spec())});
            assertEquals(0.0, Vjp.relDiff(Tensor.of(dy.shape(), want), Tensor.of(dy.shape(), separate)), 1e-6, Arrays.toString(c));
            assertArrayEquals(dy.data(), in[0].data(), "dY untouched when dX has its own buffer");
            float[] shared = dy.data().clone();
            RefView both = view(shared, dy.spec());
            Conv2dBackwardData.reference(inPlace, new RefView[] {both, in[1]}, new RefView[] {both});
            assertArrayEquals(separate, shared, "over dY: the same bits " + Arrays.toString(c));
            ConvGeometry geo = conv.geometry(dy.spec(), w.spec());
            for (int rows = 1; rows <= 2; rows++) {
                float[] banded = dy.data().clone();
                RefView b = view(banded, dy.spec());
                BandedBackwardData.run(geo, b, in[1], b, rows);
                assertArrayEquals(separate, banded, rows + "-row bands over dY: the same bits " + Arrays.toString(c));
            }
        }
    }

    @Test
    void onlyForDenseSameSizeStrideOneConvolutions() {
        Random rnd = new Random(1);
        Tensor w = Tensor.gaussian(Shape.of(6, 6, 3, 3), 1, rnd);
        Tensor dy = Tensor.gaussian(Shape.of(1, 6, 4, 4), 1, rnd);
        assertFalse(new Conv2dBackwardData(Conv2d.of(1, 0, 1, 1), 6, 6).canRunOverItsInput(List.of(dy.spec(), w.spec())), "valid conv");
        assertFalse(new Conv2dBackwardData(Conv2d.of(2, 1, 1, 1), 8, 8).canRunOverItsInput(List.of(dy.spec(), w.spec())), "stride 2");
        Tensor w2 = Tensor.gaussian(Shape.of(6, 4, 3, 3), 1, rnd);
        assertFalse(new Conv2dBackwardData(Conv2d.of(1, 1, 1, 1), 4, 4).canRunOverItsInput(List.of(dy.spec(), w2.spec())), "4 -> 6 channels");
        Graph g = new Graph();
        Value d = g.input("dy", dy.spec());
        Value wt = g.input("w", w2.spec());
        GraphException e = assertThrows(GraphException.class,
                () -> g.apply1(new Conv2dBackwardData(Conv2d.of(1, 1, 1, 1), 4, 4).overItsInput(), d, wt));
        assertTrue(e.getMessage().contains("in-place data gradient"), e.getMessage());
    }

    private static RefView view(float[] data, TensorSpec spec) {
        return new RefView(data, 0, spec);
    }
}
