package org.leanseg.eval;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.Backend;
import org.leanseg.config.EvalConfig;
import org.leanseg.data.Dataset;
import org.leanseg.data.Resample;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Evaluation: eval-mode forward and argmax over a dataset, streamed into a confusion matrix (no
 * logits are kept beyond one image or batch). {@link Inference} picks whole-image or slide
 * inference, optional flip averaging and scales; plain whole-image evaluation (one scale, no flip)
 * runs in batches with the argmax in the graph. Executors are cached per input shape
 * ({@link InferenceGraphs}); slide windows all have the crop size except where an image is smaller
 * than the crop. With a {@link MemoryBudget}, an image whose whole-image plan is over the budget is
 * run in slide mode instead (said once in the log), so validation never plans more than the budget.
 *
 * <pre>{@code
 * try (Evaluator ev = new Evaluator(model, backend, store, 1, Inference.slide(512, 512, 341, 341, false))) {
 *     double mIoU = ev.evaluate(val, null).meanIoU();
 * }
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=SlideInferenceTest+MultiScaleTest+MemoryBudgetTest}.
 */
public final class Evaluator implements AutoCloseable {
    private final DeepLabV3Plus model;
    private final int batch;
    private final Inference inference;
    private final MemoryBudget budget;
    private final InferenceGraphs graphs;
    private boolean switchLogged;
    // image passes so far: run whole, slid because whole was over the budget, slid as configured
    private long wholePasses;
    private long fallbackPasses;
    private long slidePasses;
    private long largestWholePeak;

    /** Whole-image evaluation in batches of {@code batch}. */
    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch) {
        this(model, backend, store, batch, Inference.whole(false));
    }

    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch, Inference inference) {
        this(model, backend, store, batch, inference, null);
    }

    /** {@code budget}: the most one inference may plan, or null for no limit. */
    public Evaluator(DeepLabV3Plus model, Backend backend, VariableStore store, int batch, Inference inference,
                     MemoryBudget budget) {
        this.model = model;
        this.batch = batch;
        this.inference = inference;
        this.budget = budget;
        this.graphs = new InferenceGraphs(model, backend, store, budget == null ? 0 : budget.bytes());
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
                    cm.add(d.label().data(), segment(d.image()));
                    continue;
                }
                System.arraycopy(d.image().data(), 0, images, k * 3 * plane, 3 * plane);
                System.arraycopy(d.label().data(), 0, labels, k * plane, plane);
                k++;
            }
            if (k > 0) {
                addBatch(cm, k, s, Arrays.copyOf(images, k * 3 * plane), Arrays.copyOf(labels, k * plane));
            }
            if (progress != null) {
                progress.run();
            }
        }
        return cm;
    }

    /** {@code k} same-sized images at once when their plan fits the budget, else one by one. */
    private void addBatch(ConfusionMatrix cm, int k, Shape s, float[] images, float[] labels) {
        Shape batched = Shape.of(k, 3, s.dim(1), s.dim(2));
        if (k == 1 || fits(batched, true)) {
            // predict counts the passes
            cm.add(labels, predict(new Tensor(TensorSpec.f32(k, 3, s.dim(1), s.dim(2)), images)).data());
            return;
        }
        int plane = s.dim(1) * s.dim(2);
        for (int i = 0; i < k; i++) {
            Tensor one = new Tensor(TensorSpec.f32(3, s.dim(1), s.dim(2)),
                    Arrays.copyOfRange(images, i * 3 * plane, (i + 1) * 3 * plane));
            cm.add(Arrays.copyOfRange(labels, i * plane, (i + 1) * plane), segment(one));
        }
    }

    /**
     * Class index per pixel, [N, H, W], for normalised images [N, 3, H, W], by one whole-image
     * pass; with a budget, a single image over it is run in slide mode.
     */
    public Tensor predict(Tensor images) {
        Shape s = images.shape();
        if (s.dim(0) == 1 && !fits(s, true)) {
            float[] labels = segment(new Tensor(TensorSpec.f32(3, s.dim(2), s.dim(3)), images.data()));
            return new Tensor(TensorSpec.f32(1, s.dim(2), s.dim(3)), labels);
        }
        wholePasses += s.dim(0);
        return graphs.run(images, true);
    }

    /** Whole mode, no flip, one scale of 1: the argmax can run in the graph. */
    private boolean plainWhole() {
        return inference.mode() == EvalConfig.Mode.WHOLE && !inference.flip() && !inference.multiScale();
    }

    /** Class index per pixel [H * W] of one normalised image [3, H, W] under this evaluator's {@link Inference}. */
    public float[] segment(Tensor image) {
        Shape s = image.shape();
        int h = s.dim(1);
        int w = s.dim(2);
        if (plainWhole() && fits(Shape.of(1, 3, h, w), true)) {
            wholePasses++;
            return graphs.run(new Tensor(TensorSpec.f32(1, 3, h, w), image.data()), true).data();
        }
        return SlideMath.argmax(logits(image), model.config().numClasses(), h * w);
    }

    /**
     * Logits [C, H, W] of one normalised image [3, H, W]: at each scale the image resized
     * (bilinear), run whole or in slide windows (summed, divided by the per-pixel window count),
     * with flip the mean of the plain and mirrored runs, the logits resized back; the mean over
     * scales. Scale 1.0 alone is exactly the single-scale result.
     */
    public float[] logits(Tensor image) {
        Shape s = image.shape();
        int h = s.dim(1);
        int w = s.dim(2);
        int classes = model.config().numClasses();
        List<Double> scales = inference.scales();
        if (!inference.multiScale()) {
            return scaleLogits(image.data(), h, w);
        }
        float[] sum = new float[classes * h * w];
        for (double f : scales) {
            int sh = Inference.scaled(h, f);
            int sw = Inference.scaled(w, f);
            boolean resized = sh != h || sw != w;
            float[] input = resized ? Resample.bilinear(image.data(), 3, h, w, sh, sw) : image.data();
            float[] out = scaleLogits(input, sh, sw);
            if (resized) {
                out = Resample.bilinear(out, classes, sh, sw, h, w);
            }
            for (int i = 0; i < sum.length; i++) {
                sum[i] += out[i];
            }
        }
        float n = scales.size();
        for (int i = 0; i < sum.length; i++) {
            sum[i] /= n;
        }
        return sum;
    }

    /** Logits [C, h, w] of one image [3, h, w] at one scale: whole (if it fits the budget) or slide. */
    private float[] scaleLogits(float[] chw, int h, int w) {
        Inference mode = inference;
        if (mode.mode() == EvalConfig.Mode.WHOLE && !fits(Shape.of(1, 3, h, w), false)) {
            mode = budget.fallback(inference.flip());
            fallbackPasses++;
        } else if (mode.mode() == EvalConfig.Mode.SLIDE) {
            slidePasses++;
        }
        if (mode.mode() == EvalConfig.Mode.WHOLE) {
            wholePasses++;
            return windowLogits(chw, h, w);
        }
        int classes = model.config().numClasses();
        float[] sum = new float[classes * h * w];
        int[] count = new int[h * w];
        for (Inference.Window win : mode.windows(h, w)) {
            // A window is clipped only where the image is smaller than the crop; it runs at its own
            // size, as mmsegmentation's slide_inference does: padding it would change the logits,
            // and a crop covering the image would no longer give whole mode's result.
            int wh = win.height();
            int ww = win.width();
            float[] out = windowLogits(SlideMath.crop(chw, h, w, win, wh, ww), wh, ww);
            SlideMath.accumulate(sum, count, h, w, out, wh, ww, win, classes);
        }
        SlideMath.divide(sum, count, classes);
        return sum;
    }

    /**
     * Whether the whole-image graph for {@code shape} plans within the budget (always without
     * one). The first single image that does not is logged once with the fallback.
     */
    private boolean fits(Shape shape, boolean argmax) {
        if (budget == null) {
            return true;
        }
        long peak = graphs.planned(shape, argmax).peakBytes();
        if (peak <= budget.bytes()) {
            largestWholePeak = Math.max(largestWholePeak, peak);
            return true;
        }
        if (shape.dim(0) == 1 && !switchLogged) {
            switchLogged = true;
            Inference f = budget.fallback(inference.flip());
            budget.log().accept("eval: whole-image inference of a " + shape.dim(2) + "x" + shape.dim(3) + " (HxW) image plans "
                    + MemoryBudget.mib(peak) + ", over the memory budget of " + MemoryBudget.mib(budget.bytes()) + " ("
                    + budget.source() + "); images over it are evaluated in slide mode, " + f.cropHeight() + "x"
                    + f.cropWidth() + " windows, stride " + f.strideHeight() + "x" + f.strideWidth());
        }
        return false;
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
        return graphs.run(new Tensor(TensorSpec.f32(1, 3, h, w), chw), false).data();
    }

    /**
     * How the images so far actually ran, for the reports of eval, predict and benchmark: whole
     * (with the largest plan and the budget it fitted), the configured slide, or the slide fallback
     * with the budget that forced it, e.g. "whole (largest plan &lt;bytes&gt;, within the memory budget
     * of &lt;bytes&gt;: free host memory (MemAvailable))" or "slide 32x32 stride 21x21 (every whole
     * image plans over the memory budget of 1.0 KiB: eval.memory_budget)".
     */
    public String used() {
        if (slidePasses > 0 || budget == null) {
            return inference.describe();
        }
        String extras = (inference.flip() ? " + flip" : "") + (inference.multiScale() ? ", scales " + inference.scales() : "");
        String within = "the memory budget of " + MemoryBudget.mib(budget.bytes()) + ": " + budget.source();
        String slide = budget.fallback(false).describe();
        if (fallbackPasses == 0) {
            return "whole" + extras + (wholePasses == 0 ? "" : " (largest plan " + MemoryBudget.mib(largestWholePeak) + ", within " + within + ")");
        }
        if (wholePasses == 0) {
            return slide + extras + " (every whole image plans over " + within + ")";
        }
        return "whole for " + wholePasses + " image passes, " + slide + " for " + fallbackPasses + " over " + within + extras;
    }

    /** Executors cached now (tests check the cache stays bounded). */
    int cachedGraphs() {
        return graphs.cached();
    }

    @Override
    public void close() {
        graphs.close();
    }
}
