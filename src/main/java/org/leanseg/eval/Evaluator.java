package org.leanseg.eval;

import java.util.HashMap;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.data.Dataset;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.nn.Trace;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Whole-image evaluation: eval-mode forward and argmax over a dataset in batches, streamed into a
 * confusion matrix (no logits are kept beyond one batch). One executor (and memory plan) per
 * input shape, cached.
 */
public final class Evaluator implements AutoCloseable {
    private final DeepLabV3Plus model;
    private final Backend backend;
    private final VariableStore store;
    private final int batch;
    private final Map<Shape, Compiled> cache = new HashMap<>();

    private record Compiled(Executor executor, Value image, Value prediction) {
    }

    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch) {
        this.model = model;
        this.backend = backend;
        this.store = store;
        this.batch = batch;
    }

    /** Evaluates every sample of {@code data}; {@code progress} is told after each batch (may be null). */
    public ConfusionMatrix evaluate(Dataset data, Runnable progress) {
        ConfusionMatrix cm = new ConfusionMatrix(model.config().numClasses(), 255);
        for (int start = 0; start < data.size(); start += batch) {
            int b = Math.min(batch, data.size() - start);
            Dataset.Sample first = data.get(start, null);
            Shape s = first.image().shape();
            int plane = s.dim(1) * s.dim(2);
            float[] images = new float[b * 3 * plane];
            float[] labels = new float[b * plane];
            int k = 0;
            for (int i = start; i < start + b; i++) {
                Dataset.Sample d = i == start ? first : data.get(i, null);
                if (!d.image().shape().equals(s)) {
                    // differently sized image: evaluate it on its own
                    cm.merge(evaluateOne(d));
                    continue;
                }
                System.arraycopy(d.image().data(), 0, images, k * 3 * plane, 3 * plane);
                System.arraycopy(d.label().data(), 0, labels, k * plane, plane);
                k++;
            }
            if (k > 0) {
                Tensor img = new Tensor(TensorSpec.f32(k, 3, s.dim(1), s.dim(2)), java.util.Arrays.copyOf(images, k * 3 * plane));
                cm.add(java.util.Arrays.copyOf(labels, k * plane), predict(img).data());
            }
            if (progress != null) {
                progress.run();
            }
        }
        return cm;
    }

    private ConfusionMatrix evaluateOne(Dataset.Sample d) {
        ConfusionMatrix cm = new ConfusionMatrix(model.config().numClasses(), 255);
        Shape s = d.image().shape();
        Tensor img = new Tensor(TensorSpec.f32(1, 3, s.dim(1), s.dim(2)), d.image().data());
        cm.add(d.label().data(), predict(img).data());
        return cm;
    }

    /** Class index per pixel, [N, H, W], for normalised images [N, 3, H, W]. */
    public Tensor predict(Tensor images) {
        Compiled c = cache.computeIfAbsent(images.shape(), this::compile);
        c.executor().run(Map.of(c.image(), images));
        return c.executor().read(c.prediction());
    }

    private Compiled compile(Shape shape) {
        Graph g = new Graph();
        Value x = g.input("image", new TensorSpec(shape, org.leanseg.tensor.DType.F32));
        Value logits = model.forward(new Trace(g, false), x).logits();
        Value pred = g.apply1(new Argmax(), logits);
        g.markOutput(pred);
        return new Compiled(new Executor(g, backend, store), x, pred);
    }

    @Override
    public void close() {
        cache.values().forEach(c -> c.executor().close());
        cache.clear();
    }
}
