package org.leanseg.ops;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.autograd.Autograd;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The norm, shape, loss and optimizer ops composed into one traced training step (BN → ReLU →
 * resize ‖ pooled branch → concat → GN → cross-entropy → autograd → SGD), run for several steps:
 * the loss falls and the running statistics move.
 */
class TrainingStepOpsTest {
    private static Variable param(VariableStore store, String name, int c, float value) {
        Variable v = new Variable(name, TensorSpec.f32(c), Role.PARAMETER);
        float[] d = new float[c];
        java.util.Arrays.fill(d, value);
        store.set(v, Tensor.of(Shape.of(c), d));
        return v;
    }

    @Test
    void lossFallsOverSgdSteps() {
        VariableStore store = new VariableStore();
        Variable gamma = param(store, "bn.weight", 3, 1f);
        Variable beta = param(store, "bn.bias", 3, 0f);
        Variable mean = new Variable("bn.running_mean", TensorSpec.f32(3), Role.BUFFER);
        Variable var = new Variable("bn.running_var", TensorSpec.f32(3), Role.BUFFER);
        store.set(var, Tensor.of(Shape.of(3), 1f, 1f, 1f));
        Variable gnWeight = param(store, "gn.weight", 6, 1f);
        Variable gnBias = param(store, "gn.bias", 6, 0f);

        Graph g = new Graph();
        Value x = g.input("image", TensorSpec.f32(2, 3, 5, 5));
        Value labels = g.input("labels", TensorSpec.i32(2, 7, 7));
        Value lr = g.input("lr", TensorSpec.f32(1));
        Value loss;
        try (var s = g.scope("net")) {
            Value y = g.apply(BatchNorm.of(true), x, g.variable(gamma), g.variable(beta), g.variable(mean), g.variable(var)).get(0);
            y = g.apply1(Activation.relu(), y);
            Value up = g.apply1(Resize.to(7, 7), y);
            Value pooled = g.apply1(new Resize(7, 7, true), g.apply1(new GlobalAvgPool(), y));
            Value cat = g.apply1(new Concat(), up, pooled);
            Value logits = g.apply(new GroupNorm(3, 1e-5), cat, g.variable(gnWeight), g.variable(gnBias)).get(0);
            loss = g.apply1(SoftmaxCrossEntropy.of(255), logits, labels);
        }
        g.markOutput(loss);
        List<Value> params = new ArrayList<>();
        for (Variable v : List.of(gamma, beta, gnWeight, gnBias)) {
            params.add(g.variable(v));
        }
        Map<Value, Value> grads = Autograd.gradients(g, loss, params);
        try (var ph = g.phase(Phase.OPTIMIZER)) {
            for (Value p : params) {
                Variable buf = new Variable(p.variable().name() + ".momentum", p.spec(), Role.OPTIMIZER_STATE);
                g.apply(new Sgd(0.9f, false, 1e-4f, 1f, false), p, grads.get(p), g.variable(buf), lr);
            }
        }

        Random rnd = new Random(81);
        Tensor image = Tensor.uniform(Shape.of(2, 3, 5, 5), -1, 2, rnd);
        int[] l = new int[2 * 49];
        for (int i = 0; i < l.length; i++) {
            l[i] = i % 11 == 0 ? 255 : rnd.nextInt(6);
        }
        Tensor target = Tensor.labels(Shape.of(2, 7, 7), l);
        float[] losses = new float[6];
        try (Executor ex = new Executor(g, new ReferenceBackend(), store)) {
            for (int step = 0; step < losses.length; step++) {
                ex.run(Map.of(x, image, labels, target, lr, Tensor.of(Shape.of(1), 0.1f)));
                losses[step] = ex.read(loss).data()[0];
                assertFalse(Float.isNaN(losses[step]), "loss at step " + step);
            }
        }
        assertTrue(losses[5] < losses[0] - 0.01, "loss should fall: " + java.util.Arrays.toString(losses));
        assertTrue(store.get(mean).maxAbs() > 0, "running mean should move");
    }
}
