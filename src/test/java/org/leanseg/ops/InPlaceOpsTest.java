package org.leanseg.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.Vjp;

/**
 * In-place BN (backward from its output, Note [In-place BN backward]) and the fused
 * ReLU/ReLU6·depthwise and ·dense conv: finite-difference gradients, agreement with the stock ops they
 * replace, the γ guard (γ = 0), and bad inputs.
 */
class InPlaceOpsTest {
    private static final BatchNorm BN_IP = new BatchNorm(1e-5, 0.1, BatchNorm.Mode.TRAIN_IN_PLACE);

    /** x' = 1·x makes an activation that dies at BN, so the executor really runs BN in place. */
    private static List<Value> bnInPlace(Graph g, List<Value> in) {
        Value x = g.apply1(new Scale(1f), in.get(0));
        return List.of(g.apply(BN_IP, x, in.get(1), in.get(2), in.get(3), in.get(4)).get(0));
    }

    private static Tensor[] bnInputs(Shape s, Random rnd, double gammaLo) {
        int c = s.dim(1);
        return new Tensor[] {Tensor.uniform(s, -1, 1, rnd), Tensor.uniform(Shape.of(c), gammaLo, 1.5, rnd),
            Tensor.uniform(Shape.of(c), -0.5, 0.5, rnd), Tensor.uniform(Shape.of(c), -0.2, 0.2, rnd),
            Tensor.uniform(Shape.of(c), 0.5, 1.5, rnd)};
    }

    @Test
    void inPlaceBatchNormGradients() {
        Random rnd = new Random(3);
        for (Shape s : List.of(Shape.of(2, 3, 5, 3), Shape.of(3, 2, 1, 7), Shape.of(2, 24, 16, 16))) {
            Tensor[] t = bnInputs(s, rnd, 0.5);
            new GradCheck().tolerance(3e-3).maxPerInput(30).input(t[0]).input(t[1]).input(t[2]).constant(t[3]).constant(t[4])
                    .check("batch_norm_inplace " + s, InPlaceOpsTest::bnInPlace);
        }
    }

    @Test
    void inPlaceBatchNormAgreesWithStock() {
        Random rnd = new Random(5);
        // negative gamma too: the inversion divides by it
        Tensor[] t = bnInputs(Shape.of(2, 6, 7, 5), rnd, -1.5);
        List<Tensor> fused = Vjp.run(InPlaceOpsTest::bnInPlace, 9, t);
        Tensor[] t2 = {t[0], t[1], t[2], t[3], t[4]};
        List<Tensor> stock = Vjp.run((g, in) -> List.of(g.apply(BatchNorm.of(true),
                g.apply1(new Scale(1f), in.get(0)), in.get(1), in.get(2), in.get(3), in.get(4)).get(0)), 9, t2);
        String[] what = {"y", "dX", "dGamma", "dBeta"};
        for (int i = 0; i < 4; i++) {
            double d = Vjp.relDiff(fused.get(i), stock.get(i));
            assertTrue(d < 2e-5, what[i] + " differs by " + d);
        }
    }

    private static RefView view(Tensor t) {
        return new RefView(t.data(), 0, t.spec());
    }

    @Test
    void gammaGuardRefusesZero() {
        RefView beta = view(Tensor.of(Shape.of(3), 0.1f, -2f, 0f));
        assertNull(BatchNorm.guardViolation(view(Tensor.of(Shape.of(3), 1f, -0.5f, 0.01f)), beta));
        String why = BatchNorm.guardViolation(view(Tensor.of(Shape.of(3), 1f, 0f, 1f)), beta);
        assertNotNull(why);
        assertTrue(why.contains("channel 1"), why);
        assertNotNull(BatchNorm.guardViolation(view(Tensor.of(Shape.of(3), 1f, 1f, Float.NaN)), beta));
    }

    /** Values of z kept 0.05 away from the kinks at 0 and 6 so central differences see one side. */
    private static Tensor preActivation(Shape s, Random rnd) {
        Tensor z = Tensor.uniform(s, -3, 8, rnd);
        float[] d = z.data();
        for (int i = 0; i < d.length; i++) {
            if (Math.abs(d[i]) < 0.05f || Math.abs(d[i] - 6f) < 0.05f) {
                d[i] += 0.1f;
            }
        }
        return z;
    }

    @Test
    void fusedActivationDepthwiseGradients() {
        Random rnd = new Random(7);
        for (Activation.Kind k : Activation.Kind.values()) {
            // 9x8 runs the phase-plane kernels; 4x3 at stride 2 (2x2 outputs) the small-plane loops
            for (int[] hw : new int[][] {{9, 8}, {4, 3}}) {
            for (Conv2d conv : List.of(Conv2d.of(1, 1, 1, 4), Conv2d.of(2, 2, 2, 4))) {
                ActConv2d op = new ActConv2d(k, conv);
                new GradCheck().tolerance(1e-2).maxPerInput(40).input(preActivation(Shape.of(2, 4, hw[0], hw[1]), rnd))
                        .input(Tensor.uniform(Shape.of(4, 1, 3, 3), -1, 1, rnd)).input(Tensor.uniform(Shape.of(4), -1, 1, rnd))
                        .check(op.name() + " " + conv + " " + hw[0] + "x" + hw[1], (g, in) -> List.of(g.apply1(op, in.toArray(new Value[0]))));
            }
            }
        }
    }

    @Test
    void fusedActivationDepthwiseAgreesWithActivationThenConv() {
        fusedAgrees(Shape.of(2, 6, 17, 16));
        fusedAgrees(Shape.of(3, 6, 5, 4)); // 3x2 outputs: the small-plane loops
    }

    private static void fusedAgrees(Shape zs) {
        Random rnd = new Random(11);
        Conv2d conv = Conv2d.of(2, 2, 2, 6);
        Tensor z = preActivation(zs, rnd);
        Tensor w = Tensor.uniform(Shape.of(6, 1, 3, 3), -1, 1, rnd);
        List<Tensor> fused = Vjp.run((g, in) -> List.of(g.apply1(new ActConv2d(Activation.Kind.RELU6, conv),
                in.get(0), in.get(1))), 4, z, w);
        List<Tensor> stock = Vjp.run((g, in) -> List.of(g.apply1(conv, g.apply1(Activation.relu6(), in.get(0)),
                in.get(1))), 4, z, w);
        for (int i = 0; i < 3; i++) {
            assertEquals(0.0, Vjp.relDiff(fused.get(i), stock.get(i)), 1e-6, "output/gradient " + i);
        }
    }

    /** Note [Activation into a dense convolution]: 3x3 "same" with a bias, dilated, strided and 1x1. */
    @Test
    void fusedActivationDenseGradients() {
        Random rnd = new Random(9);
        for (Activation.Kind k : Activation.Kind.values()) {
            for (Conv2d conv : List.of(Conv2d.of(1, 1, 1, 1), Conv2d.of(2, 2, 2, 1), Conv2d.of(1, 0, 1, 1))) {
                ActConv2d op = new ActConv2d(k, conv);
                int kk = conv.padH() == 0 ? 1 : 3;
                new GradCheck().tolerance(1e-2).maxPerInput(40).input(preActivation(Shape.of(2, 3, 7, 6), rnd))
                        .input(Tensor.uniform(Shape.of(5, 3, kk, kk), -1, 1, rnd)).input(Tensor.uniform(Shape.of(5), -1, 1, rnd))
                        .check(op.name() + " " + conv, (g, in) -> List.of(g.apply1(op, in.toArray(new Value[0]))));
            }
        }
    }

    @Test
    void fusedActivationDenseAgreesWithActivationThenConv() {
        Random rnd = new Random(13);
        // 40x40 outputs: more than one image per GEMM is not batched; 6x5: images batched into one GEMM
        for (Shape zs : List.of(Shape.of(2, 6, 40, 40), Shape.of(3, 6, 6, 5))) {
            for (Activation.Kind k : Activation.Kind.values()) {
                Conv2d conv = Conv2d.of(1, 1, 1, 1);
                Tensor z = preActivation(zs, rnd);
                Tensor w = Tensor.uniform(Shape.of(4, 6, 3, 3), -1, 1, rnd);
                List<Tensor> fused = Vjp.run((g, in) -> List.of(g.apply1(new ActConv2d(k, conv), in.get(0), in.get(1))), 4, z, w);
                List<Tensor> stock = Vjp.run((g, in) -> List.of(g.apply1(conv, g.apply1(new Activation(k), in.get(0)), in.get(1))), 4, z, w);
                for (int i = 0; i < 3; i++) {
                    assertEquals(0.0, Vjp.relDiff(fused.get(i), stock.get(i)), 1e-6, k + " " + zs + " output/gradient " + i);
                }
            }
        }
    }

    @Test
    void fusedActivationNeedsDepthwise() {
        Graph g = new Graph();
        Value z = g.input("z", org.leanseg.tensor.TensorSpec.f32(1, 4, 8, 8));
        Value w = g.input("w", org.leanseg.tensor.TensorSpec.f32(4, 2, 3, 3));
        GraphException e = assertThrows(GraphException.class,
                () -> g.apply1(new ActConv2d(Activation.Kind.RELU, Conv2d.of(1, 1, 1, 2)), z, w));
        assertTrue(e.getMessage().contains("depthwise"), e.getMessage());
    }
}
