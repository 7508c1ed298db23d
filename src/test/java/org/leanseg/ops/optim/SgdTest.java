package org.leanseg.ops.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** SGD against a double-precision re-implementation of PyTorch's update over three steps. */
class SgdTest {
    private static final double[] LRS = {0.1, 0.05, 0.02};

    /** PyTorch's SGD (dampening 0), in double; buf = d on the first step. */
    private static void expectedStep(double[] p, double[] g, double[] buf, boolean first, Sgd o, double lr) {
        for (int i = 0; i < p.length; i++) {
            double d = g[i] + o.weightDecay() * p[i];
            buf[i] = first ? d : o.momentum() * buf[i] + d;
            double step = o.nesterov() ? d + o.momentum() * buf[i] : buf[i];
            p[i] -= lr * o.lrScale() * step;
        }
    }

    private static void checkThreeSteps(Sgd op) {
        checkThreeSteps(op, Shape.of(3, 7));
        // large enough for the kernel to split over threads
        checkThreeSteps(op, Shape.of(64, 3, 13, 17));
    }

    private static void checkThreeSteps(Sgd op, Shape s) {
        Random rnd = new Random(61);
        TensorSpec spec = new TensorSpec(s, org.leanseg.tensor.DType.F32);
        Variable p = new Variable("w", spec, Role.PARAMETER);
        Variable grad = new Variable("w.grad", spec, Role.GRADIENT);
        Variable buf = new Variable("w.momentum", spec, Role.OPTIMIZER_STATE);
        VariableStore store = new VariableStore();
        Tensor p0 = Tensor.uniform(s, -1, 1, rnd);
        store.set(p, p0);
        Graph g = new Graph();
        Value lr = g.input("lr", TensorSpec.f32(1));
        assertEquals(List.of(), g.apply(op, g.variable(p), g.variable(grad), g.variable(buf), lr));
        double[] ep = new double[p0.data().length];
        double[] eb = new double[ep.length];
        for (int i = 0; i < ep.length; i++) {
            ep[i] = p0.data()[i];
        }
        try (Executor ex = new Executor(g, new ReferenceBackend(), store)) {
            for (int step = 0; step < 3; step++) {
                Tensor gr = Tensor.uniform(s, -2, 2, rnd);
                double[] eg = new double[ep.length];
                for (int i = 0; i < eg.length; i++) {
                    eg[i] = gr.data()[i];
                }
                store.set(grad, gr);
                ex.run(Map.of(lr, Tensor.of(Shape.of(1), (float) LRS[step])));
                expectedStep(ep, eg, eb, step == 0, op, (float) LRS[step]);
                float[] ap = store.get(p).data();
                float[] ab = store.get(buf).data();
                for (int i = 0; i < ep.length; i++) {
                    assertEquals(ep[i], ap[i], 2e-6, op + " param step " + step + " at " + i);
                    assertEquals(eb[i], ab[i], 2e-6 * Math.max(1, Math.abs(eb[i])), op + " buf step " + step + " at " + i);
                }
                float[] after = store.get(grad).data();
                for (int i = 0; i < after.length; i++) {
                    assertEquals(op.zeroGrad() ? 0f : gr.data()[i], after[i], op + " grad after step " + step);
                }
            }
        }
    }

    @Test
    void momentumWithWeightDecay() {
        checkThreeSteps(new Sgd(0.9f, false, 1e-4f, 1f, true));
    }

    @Test
    void nesterovWithLargeWeightDecayAndLrScale() {
        checkThreeSteps(new Sgd(0.9f, true, 5e-2f, 0.5f, false));
    }

    @Test
    void plainSgdWithoutMomentum() {
        checkThreeSteps(new Sgd(0f, false, 0.1f, 2f, true));
    }

    @Test
    void mutatedInputs() {
        assertArrayEquals(new int[] {0, 1, 2}, new Sgd(0.9f, false, 0f, 1f, true).mutatedInputs());
        assertArrayEquals(new int[] {0, 2}, new Sgd(0.9f, false, 0f, 1f, false).mutatedInputs());
    }

    @Test
    void badArgumentsNameOpStageAndShapes() {
        Graph g = new Graph();
        Value p = g.input("p", TensorSpec.f32(4, 3));
        Value gr = g.input("g", TensorSpec.f32(3, 4));
        Value lr = g.input("lr", TensorSpec.f32(1));
        GraphException e;
        try (var s = g.scope("optimizer")) {
            e = assertThrows(GraphException.class, () -> g.apply(new Sgd(0.9f, false, 0f, 1f, true), p, gr, p, lr));
        }
        String m = e.getMessage();
        assertTrue(m.contains("sgd") && m.contains("optimizer") && m.contains("[4, 3]") && m.contains("[3, 4]"), m);
        GraphException l = assertThrows(GraphException.class, () -> g.apply(new Sgd(0.9f, false, 0f, 1f, true), p, p, p, p));
        assertTrue(l.getMessage().contains("lr must be f32 [1]"), l.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Sgd(0f, true, 0f, 1f, true));
        assertThrows(IllegalArgumentException.class, () -> new Sgd(0.9f, false, -1f, 1f, true));
    }
}
