package org.leanseg.ops.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.OpRun;
import org.leanseg.testing.Vjp;

/**
 * Note [BN backward through a 1x1 convolution]: the fused op against the chain it replaces (1x1
 * data gradient, activation backward gated from y, BN backward from the output), run op by op on
 * the reference backend; dX written over y gives the same bits; planes larger than one band (the
 * band is 1 Mi floats / C pixels) and its shape rule. Run: {@code mvn -q test -Dtest=BatchNormBackwardThroughConvTest}.
 */
class BatchNormBackwardThroughConvTest {
    @Test
    void equalsTheChainItReplaces() {
        Random rnd = new Random(3);
        // 2 x 512 x 33 x 65: 2145 pixels a plane, bands of 2048 (two bands, the second short)
        int[][] shapes = {{2, 6, 7, 5, 4}, {3, 16, 9, 9, 21}, {2, 512, 33, 65, 3}};
        for (Activation.Kind act : Activation.Kind.values()) {
            for (int[] s : shapes) {
                Shape ys = Shape.of(s[0], s[1], s[2], s[3]);
                Tensor y = Tensor.uniform(ys, -3, 8, rnd);   // both sides of 0 and of ReLU6's cap
                Tensor gamma = Tensor.uniform(Shape.of(s[1]), 0.5, 2, rnd);
                Tensor beta = Tensor.uniform(Shape.of(s[1]), -1, 1, rnd);
                Tensor invStd = Tensor.uniform(Shape.of(s[1]), 0.5, 3, rnd);
                Tensor dOut = Tensor.gaussian(Shape.of(s[0], s[4], s[2], s[3]), 1, rnd);
                Tensor w = Tensor.gaussian(Shape.of(s[4], s[1], 1, 1), 0.5, rnd);
                Tensor dA = OpRun.run(new Conv2dBackwardData(Conv2d.of(1, 0, 1, 1), s[2], s[3]), dOut, w).output(0);
                Tensor dz = OpRun.run(new ActivationBackward(act), y, dA).output(0);
                OpRun.Result chain = OpRun.run(BatchNormBackward.of(BatchNormBackward.Source.Y), y, gamma, beta, invStd, dz);
                BatchNormBackwardThroughConv op = new BatchNormBackwardThroughConv(act);
                OpRun.Result fused = OpRun.run(op, y, gamma, beta, invStd, dOut, w);
                String what = op.name() + " " + ys;
                for (int i = 0; i < 3; i++) {
                    assertEquals(0.0, Vjp.relDiff(chain.output(i), fused.output(i)), 1e-5, what + " output " + i);
                }
                float[] shared = y.data().clone();
                RefView yv = new RefView(shared, 0, y.spec());
                RefView[] in = {yv, view(gamma), view(beta), view(invStd), view(dOut), view(w)};
                BatchNormBackwardThroughConv.reference(op, in, new RefView[] {yv, view(Tensor.zeros(gamma.shape())),
                        view(Tensor.zeros(gamma.shape()))});
                assertArrayEquals(fused.output(0).data(), shared, what + ": dX over y, the same bits");
            }
        }
    }

    @Test
    void needsAOneByOneWeightOverYsChannels() {
        Graph g = new Graph();
        Value y = g.input("y", org.leanseg.tensor.TensorSpec.f32(1, 8, 4, 4));
        Value v = g.input("v", org.leanseg.tensor.TensorSpec.f32(8));
        Value d = g.input("d", org.leanseg.tensor.TensorSpec.f32(1, 3, 4, 4));
        Value w = g.input("w", org.leanseg.tensor.TensorSpec.f32(3, 8, 3, 3));
        GraphException e = assertThrows(GraphException.class,
                () -> g.apply(new BatchNormBackwardThroughConv(Activation.Kind.RELU), y, v, v, v, d, w));
        assertTrue(e.getMessage().contains("1x1"), e.getMessage());
    }

    private static RefView view(Tensor t) {
        return new RefView(t.data(), 0, t.spec());
    }
}
