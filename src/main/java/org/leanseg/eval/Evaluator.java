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
 * Evaluation: eval-mode forward and argmax over a dataset, streamed into a confusion matrix (no
 * logits are kept beyond one image or batch). {@link Inference} picks whole-image or slide
 * inference and optional flip averaging; plain whole-image evaluation runs in batches with the
 * argmax in the graph. One executor (and memory plan) per input shape, cached; slide windows
 * all have the crop size except where an image is smaller than the crop.
 *
 * <pre>{@code
 * try (Evaluator ev = new Evaluator(model, backend, store, 1, Inference.slide(512, 512, 341, 341, false))) {
 *     double mIoU = ev.evaluate(val, null).meanIoU();
 * }
 * }</pre>
 */
public final class Evaluator implements AutoCloseable {
    private final DeepLabV3Plus model;
    private final Backend backend;
    private final VariableStore store;
    private final int batch;
    private final Inference inference;
    private final Map<Shape, Compiled> cache = new HashMap<>();
    private final Map<Shape, Compiled> logitsCache = new HashMap<>();

    private record Compiled(Executor executor, Value image, Value prediction) {
    }

    /** Whole-image evaluation in batches of {@code batch}. */
    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch) {
        this(model, backend, store, batch, Inference.whole(false));
    }

    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch, Inference inference) {
        this.model = model;
        this.backend = backend;
        this.store = store;
        this.batch = batch;
        this.inference = inference;
    }

    public Inference inference() {
        return inference;
    }

    /** Evaluates every sample of {@code data}; {@code progress} is told after each batch (may be null). */
    public ConfusionMatrix evaluate(Dataset data, Runnable progress) {
        ConfusionMatrix cm = new ConfusionMatrix(model.config().numClasses(), 255);
        if (!plainWhole()) {
            for (int i = 0; i < data.size(); i++) {
                Dataset.Sample d = data.get(i, null);
                cm.add(d.label().data(), segment(d.image()));
                if (progress != null) {
                    progress.run();
                }
            }
            return cm;
        }
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

    private boolean plainWhole() {
        return inference.mode() == org.leanseg.config.EvalConfig.Mode.WHOLE && !inference.flip();
    }

    /** Class index per pixel [H * W] of one normalised image [3, H, W] under this evaluator's {@link Inference}. */
    public float[] segment(Tensor image) {
        Shape s = image.shape();
        int h = s.dim(1);
        int w = s.dim(2);
        if (plainWhole()) {
            return predict(new Tensor(TensorSpec.f32(1, 3, h, w), image.data())).data();
        }
        return SlideMath.argmax(logits(image), model.config().numClasses(), h * w);
    }

    /**
     * Logits [C, H, W] of one normalised image [3, H, W]: whole, or slide windows summed and
     * divided by the per-pixel window count; with flip, the mean of the plain and mirrored runs.
     */
    public float[] logits(Tensor image) {
        Shape s = image.shape();
        int h = s.dim(1);
        int w = s.dim(2);
        int classes = model.config().numClasses();
        if (inference.mode() == org.leanseg.config.EvalConfig.Mode.WHOLE) {
            return windowLogits(image.data(), h, w);
        }
        float[] sum = new float[classes * h * w];
        int[] count = new int[h * w];
        for (Inference.Window win : inference.windows(h, w)) {
            // A window is clipped only where the image is smaller than the crop; it runs at its own
            // size, as mmsegmentation's slide_inference does: padding it would change the logits,
            // and a crop covering the image would no longer give whole mode's result.
            int wh = win.height();
            int ww = win.width();
            float[] out = windowLogits(SlideMath.crop(image.data(), h, w, win, wh, ww), wh, ww);
            SlideMath.accumulate(sum, count, h, w, out, wh, ww, win, classes);
        }
        SlideMath.divide(sum, count, classes);
        return sum;
    }

    /** Logits [C, h, w] of one image [3, h, w], averaged with the mirrored run when flipping. */
    private float[] windowLogits(float[] chw, int h, int w) {
        float[] out = runLogits(chw, h, w);
        if (inference.flip()) {
            float[] mirrored = SlideMath.flip(runLogits(SlideMath.flip(chw, 3, h, w), h, w), model.config().numClasses(), h, w);
            for (int i = 0; i < out.length; i++) {
                out[i] = (out[i] + mirrored[i]) * 0.5f;
            }
        }
        return out;
    }

    private float[] runLogits(float[] chw, int h, int w) {
        Tensor img = new Tensor(TensorSpec.f32(1, 3, h, w), chw);
        Compiled c = logitsCache.computeIfAbsent(img.shape(), this::compileLogits);
        c.executor().run(Map.of(c.image(), img));
        return c.executor().read(c.prediction()).data();
    }

    private Compiled compileLogits(Shape shape) {
        Graph g = new Graph();
        Value x = g.input("image", new TensorSpec(shape, org.leanseg.tensor.DType.F32));
        Value logits = model.forward(new Trace(g, false), x).logits();
        g.markOutput(logits);
        return new Compiled(new Executor(g, backend, store), x, logits);
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
        logitsCache.values().forEach(c -> c.executor().close());
        logitsCache.clear();
    }
}
