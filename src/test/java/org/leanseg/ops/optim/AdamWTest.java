package org.leanseg.ops.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

/** AdamW against a double-precision re-implementation of PyTorch's update over several steps. */
class AdamWTest {
    @Test
    void matchesPyTorchFormulaOverThreeSteps() {
        int n = 37;
        float b1 = 0.9f;
        float b2 = 0.99f;
        float eps = 1e-8f;
        float wd = 0.05f;
        float lrScale = 0.5f;
        Random rnd = new Random(4);
        Variable p = new Variable("p", TensorSpec.f32(n), Role.PARAMETER);
        Variable m = new Variable("m", TensorSpec.f32(n), Role.OPTIMIZER_STATE);
        Variable v = new Variable("v", TensorSpec.f32(n), Role.OPTIMIZER_STATE);
        Graph g = new Graph();
        Value grad = g.input("g", TensorSpec.f32(n));
        Value hyper = g.input("hyper", TensorSpec.f32(3));
        g.apply(new AdamW(b1, b2, eps, wd, lrScale, false), g.variable(p), grad, g.variable(m), g.variable(v), hyper);
        VariableStore store = new VariableStore();
        Tensor p0 = Tensor.uniform(Shape.of(n), -1, 1, rnd);
        store.set(p, p0);
        double[] ep = new double[n];
        double[] em = new double[n];
        double[] ev = new double[n];
        for (int i = 0; i < n; i++) {
            ep[i] = p0.data()[i];
        }
        double lr = 0.01;
        try (Executor ex = new Executor(g, new ReferenceBackend(), store)) {
            for (int t = 1; t <= 3; t++) {
                Tensor gr = Tensor.uniform(Shape.of(n), -2, 2, rnd);
                float[] h = AdamW.hyper(lr, b1, b2, t);
                ex.run(Map.of(grad, gr, hyper, Tensor.of(Shape.of(3), h)));
                double a = lr * lrScale;
                for (int i = 0; i < n; i++) {
                    ep[i] *= 1 - a * wd;
                    em[i] = b1 * em[i] + (1 - b1) * gr.data()[i];
                    ev[i] = b2 * ev[i] + (1 - b2) * gr.data()[i] * gr.data()[i];
                    double mh = em[i] / (1 - Math.pow(b1, t));
                    double vh = ev[i] / (1 - Math.pow(b2, t));
                    ep[i] -= a * mh / (Math.sqrt(vh) + eps);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            assertEquals(ep[i], store.get(p).data()[i], 1e-6, "param " + i);
            assertEquals(em[i], store.get(m).data()[i], 1e-6, "m " + i);
            assertEquals(ev[i], store.get(v).data()[i], 1e-6, "v " + i);
        }
    }

    @Test
    void badShapesNameTheOp() {
        Graph g = new Graph();
        Value p = g.input("p", TensorSpec.f32(4));
        Value q = g.input("q", TensorSpec.f32(5));
        Value h = g.input("h", TensorSpec.f32(1));
        GraphException e = assertThrows(GraphException.class, () -> g.apply(new AdamW(0.9f, 0.999f, 1e-8f, 0f, 1f, false), p, q, p, p, h));
        assertEquals(true, e.getMessage().contains("adamw"), e.getMessage());
    }
}
