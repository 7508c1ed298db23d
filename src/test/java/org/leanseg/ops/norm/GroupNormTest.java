package org.leanseg.ops.norm;

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

/** GroupNorm: forward against a double-precision re-implementation, gradients, errors. */
class GroupNormTest {
    @Test
    void forwardMatchesDefinition() {
        // the second case is large enough for the kernel to split (sample, group) tasks over threads
        checkForward(2, 6, 3, 5, 3);
        checkForward(4, 32, 16, 16, 16);
    }

    private static void checkForward(int nb, int ch, int height, int width, int groups) {
        Random rnd = new Random(21);
        int hw = height * width;
        Tensor x = Tensor.uniform(Shape.of(nb, ch, height, width), -2, 2, rnd);
        Tensor gamma = Tensor.uniform(Shape.of(ch), 0.5, 1.5, rnd);
        Tensor beta = Tensor.uniform(Shape.of(ch), -1, 1, rnd);
        OpRun.Result r = OpRun.run(new GroupNorm(groups, 1e-5), x, gamma, beta);
        int cpg = ch / groups;
        for (int b = 0; b < nb; b++) {
            for (int gr = 0; gr < groups; gr++) {
                int base = (b * ch + gr * cpg) * hw;
                int m = cpg * hw;
                double sum = 0;
                for (int i = 0; i < m; i++) {
                    sum += x.data()[base + i];
                }
                double mean = sum / m;
                double sq = 0;
                for (int i = 0; i < m; i++) {
                    sq += Math.pow(x.data()[base + i] - mean, 2);
                }
                double invStd = 1 / Math.sqrt(sq / m + 1e-5);
                assertEquals(mean, r.output(1).data()[b * groups + gr], 1e-6);
                assertEquals(invStd, r.output(2).data()[b * groups + gr], 1e-6 * invStd);
                for (int i = 0; i < m; i++) {
                    int c = gr * cpg + i / hw;
                    double y = (x.data()[base + i] - mean) * invStd * gamma.data()[c] + beta.data()[c];
                    assertEquals(y, r.output(0).data()[base + i], 1e-5);
                }
            }
        }
    }

    @Test
    void gradients() {
        Random rnd = new Random(22);
        // {N, C, groups, H, W}; the last is large enough for the kernels to split work over threads
        int[][] cases = {{2, 6, 3, 5, 3}, {3, 4, 1, 3, 1}, {1, 5, 5, 2, 3}, {4, 32, 16, 16, 16}};
        for (int[] k : cases) {
            Shape s = Shape.of(k[0], k[1], k[3], k[4]);
            int groups = k[2];
            new GradCheck().tolerance(3e-3).maxPerInput(s.numel() > 1000 ? 30 : 200).input(Tensor.uniform(s, -1, 1, rnd)).input(Tensor.uniform(Shape.of(k[1]), 0.5, 1.5, rnd))
                    .input(Tensor.uniform(Shape.of(k[1]), -0.5, 0.5, rnd))
                    .check("group_norm groups=" + groups + " " + s,
                            (g, in) -> List.of(g.apply(new GroupNorm(groups, 1e-5), in.toArray(new Value[0])).get(0)));
        }
    }

    @Test
    void channelsNotDivisibleByGroups() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(2, 6, 4, 4));
        Value v = g.input("v", TensorSpec.f32(6));
        GraphException e;
        try (var s = g.scope("decoder")) {
            e = assertThrows(GraphException.class, () -> g.apply(new GroupNorm(4, 1e-5), x, v, v));
        }
        String m = e.getMessage();
        assertTrue(m.contains("group_norm") && m.contains("decoder") && m.contains("[2, 6, 4, 4]")
                && m.contains("groups 4"), m);
    }
}
