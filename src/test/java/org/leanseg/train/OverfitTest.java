package org.leanseg.train;

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
import org.leanseg.nn.Conv;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** End to end: a three-layer conv net traced, differentiated and trained with SGD overfits two images. */
class OverfitTest {
    @Test
    void threeLayerConvNetOverfitsTwoImages() {
        int n = 2;
        int h = 12;
        int w = 12;
        int classes = 3;
        ParamSet ps = new ParamSet();
        Conv c1 = new Conv(ps, "c1", 3, 8, 3, 1, 1, 1, true);
        Conv c2 = new Conv(ps, "c2", 8, 8, 3, 1, 2, 1, true);
        Conv c3 = new Conv(ps, "c3", 8, classes, 1, 1, 1, 1, true);
        Graph g = new Graph();
        Trace t = new Trace(g, true);
        Value x = g.input("x", TensorSpec.f32(n, 3, h, w));
        Value y = g.input("y", TensorSpec.i32(n, h, w));
        Value lr = g.input("lr", TensorSpec.f32(1));
        Value hid = g.apply1(Activation.relu(), c1.forward(t, x));
        hid = g.apply1(Activation.relu(), c2.forward(t, hid));
        Value loss = g.apply1(SoftmaxCrossEntropy.of(255), c3.forward(t, hid), y);
        g.markOutput(loss);
        List<Value> params = new ArrayList<>();
        ps.parameters().forEach(p -> params.add(g.variable(p)));
        Map<Value, Value> grads = Autograd.gradients(g, loss, params);
        try (var ph = g.phase(Phase.OPTIMIZER)) {
            for (Value p : params) {
                Variable mom = new Variable("m/" + p.variable().name(), p.spec(), Role.OPTIMIZER_STATE);
                g.apply(new Sgd(0.9f, false, 0f, 1f, false), p, grads.get(p), g.variable(mom), lr);
            }
        }
        VariableStore store = new VariableStore();
        ps.initialize(store, 7);
        Random rnd = new Random(11);
        Tensor image = Tensor.gaussian(Shape.of(n, 3, h, w), 1, rnd);
        int[] labels = new int[n * h * w];
        // label = the strongest of the three input channels at each pixel (some pixels ignored)
        for (int b = 0; b < n; b++) {
            for (int p = 0; p < h * w; p++) {
                int best = 0;
                for (int c = 1; c < 3; c++) {
                    if (image.data()[(b * 3 + c) * h * w + p] > image.data()[(b * 3 + best) * h * w + p]) {
                        best = c;
                    }
                }
                labels[b * h * w + p] = p % 17 == 0 ? 255 : best;
            }
        }
        Tensor label = Tensor.labels(Shape.of(n, h, w), labels);
        float first = 0;
        float last = 0;
        try (Executor ex = new Executor(g, new ReferenceBackend(), store)) {
            for (int step = 0; step < 150; step++) {
                ex.run(Map.of(x, image, y, label, lr, Tensor.of(Shape.of(1), 0.05f)));
                last = ex.read(loss).data()[0];
                if (step == 0) {
                    first = last;
                }
            }
        }
        assertTrue(last <= 0.1 * first, "loss fell from " + first + " to " + last + ", less than 90%");
    }
}
