package org.leanseg.train;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.leanseg.backend.Backend;
import org.leanseg.config.ConfigException;
import org.leanseg.exec.Executor;
import org.leanseg.exec.InPlaceGuardException;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.recompute.BudgetException;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Runs training micro-steps and optimizer updates on compiled step graphs. When in-place BN
 * cannot recover its input because a gamma went near zero (see Note [In-place BN backward]), the
 * executor refuses before running anything; the runner then rebuilds the step with those layers'
 * BN stock and runs the same batch again, so training continues with exactly the same math. The
 * set of stock layers is part of the step: checkpoints save it and a resumed run starts with it.
 * Optimizer state survives the rebuild: momenta are per-model slots (ParamSet#slot).
 */
final class StepRunner implements AutoCloseable {
    private final DeepLabV3Plus model;
    private final int batch;
    private final int height;
    private final int width;
    private final OptimizerSettings sgd;
    private final int accumulate;
    private final Backend backend;
    private final VariableStore store;
    private final Consumer<String> log;
    private final float[] classWeights;
    private final Precision precision;
    private final Distillation distill;
    private StepPasses passes;
    private Step built;
    private TrainGraph graph;
    private Executor step;
    private Executor optimizer;

    StepRunner(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate, Backend backend,
               VariableStore store, Consumer<String> log) {
        this(model, batch, height, width, sgd, accumulate, backend, store, StepPasses.forBackend(backend.name()), null, Precision.FP32, log);
    }

    /** With the given rewrites (the backend's, with the run's recompute policy), loss class weights (or null) and precision. */
    StepRunner(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate, Backend backend,
               VariableStore store, StepPasses passes, float[] classWeights, Precision precision, Consumer<String> log) {
        this(model, batch, height, width, sgd, accumulate, backend, store, passes, classWeights, precision, null, log);
    }

    /**
     * With the given rewrites (the backend's, with the run's recompute policy), loss class weights (or
     * null), precision (Note [Mixed precision]) and distillation (or null; its teacher's weights already
     * in {@code store}).
     */
    StepRunner(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate, Backend backend,
               VariableStore store, StepPasses passes, float[] classWeights, Precision precision, Distillation distill,
               Consumer<String> log) {
        this.model = model;
        this.batch = batch;
        this.height = height;
        this.width = width;
        this.sgd = sgd;
        this.accumulate = accumulate;
        this.backend = backend;
        this.store = store;
        this.log = log;
        this.classWeights = classWeights;
        this.precision = precision;
        this.distill = distill;
        this.passes = passes;
        build();
    }

    /** Builds the step with {@link StepBuilder} and runs the builder's plans (what {@code plan} reports). */
    private void build() {
        try {
            built = StepBuilder.training(model, batch, height, width).optimizer(sgd).accumulate(accumulate).passes(passes)
                    .classWeights(classWeights).distill(distill).workspace(org.leanseg.ops.Ops.workspace(org.leanseg.ops.Device.of(backend)))
                    .precision(precision).build();
        } catch (BudgetException e) {
            throw new ConfigException("train.recompute: " + e.getMessage(), e);
        }
        graph = built.train();
        step = built.executor(backend, store, Executor.Options.defaults());
        optimizer = built.optimizerExecutor(backend, store, Executor.Options.defaults());
        if (precision != Precision.FP32 && org.leanseg.ops.Device.of(backend).fallback() != org.leanseg.ops.Device.Fallback.HOST_REFERENCE) {
            java.util.Set<String> missing = withoutKernel(false).keySet();
            if (!missing.isEmpty()) {
                close();
                throw new ConfigException("train.precision: " + precision + " needs 16-bit " + backend.name() + " kernels for " + missing
                        + ", which do not exist yet; train with device cpu or reference, or train.precision fp32");
            }
        }
    }

    /**
     * The BN layers (their gammas) this runner's step runs with stock BN since the fallback; the
     * trainer saves them in each checkpoint so that a resumed run builds the same step.
     */
    java.util.Set<org.leanseg.graph.Variable> stockBatchNorm() {
        return passes.stockBatchNorm();
    }

    TrainGraph graph() {
        return graph;
    }

    /** The step's planned peak (activation arena + persistent tensors + workspace), the memory it was allowed. */
    long plannedPeakBytes() {
        return built.report().plannedPeakBytes();
    }

    /** Starts moving the batch of a later {@link #micro} to the device while this one runs ({@link Executor#prefetch}). */
    void prefetch(Tensor images, Tensor labels) {
        step.prefetch(Map.of(graph.image(), images, graph.label(), labels));
    }

    /** One forward+backward (and, without accumulation, the update); returns the loss. */
    float micro(Tensor images, Tensor labels, float lr, long step) {
        try {
            return runMicro(images, labels, lr, step);
        } catch (InPlaceGuardException guard) {
            passes = passes.withStockBatchNorm(guard.gammas());
            log.accept("batch norm of " + guard.gammas().size() + " layer(s) switched from in place to stock for the rest of the run"
                    + " (saved in each checkpoint, so --resume keeps it): " + guard.getMessage());
            close();
            build();
            return runMicro(images, labels, lr, step);
        }
    }

    private float runMicro(Tensor images, Tensor labels, float lr, long stepNumber) {
        Map<Value, Tensor> feeds = new HashMap<>();
        feeds.put(graph.image(), images);
        feeds.put(graph.label(), labels);
        if (optimizer == null) {
            feeds.put(graph.lr(), hyper(lr, stepNumber));
        }
        step.run(feeds);
        return step.read(graph.loss()).data()[0];
    }

    /**
     * The loss-scaling state {@code [k, clean steps, skipped steps]} of an fp16 step (Note [Dynamic
     * loss scaling]: scale 2^(16+k)), one 12-byte download; null for other precisions.
     */
    float[] lossScaleState() {
        org.leanseg.graph.Variable v = graph.lossScaleState();
        return v == null ? null : step.read(built.graph().variables().get(v)).data();
    }

    /**
     * For a 16-bit step, one line saying so and which ops the device runs on the reference kernel
     * with float host copies for want of a 16-bit kernel (Note [Mixed precision]); null for fp32.
     */
    String precisionLine() {
        if (precision == Precision.FP32) {
            return null;
        }
        org.leanseg.ops.Device<?, ?> device = org.leanseg.ops.Device.of(backend);
        boolean widens = device.fallback() == org.leanseg.ops.Device.Fallback.WIDEN_16;
        Map<String, Integer> host = withoutKernel(widens);
        int onHost = host.values().stream().mapToInt(Integer::intValue).sum();
        int ops = step.schedule().size() + (optimizer == null ? 0 : optimizer.schedule().size());
        String note = backend.sixteenBitNote(precision.activations());
        return "precision " + precision.key() + ": activations and their gradients in " + precision.activations().name().toLowerCase()
                + "; weights, optimizer state and BN statistics in f32" + (precision.lossScaling() ? "; dynamic loss scaling" : "")
                + (note == null ? "" : "; " + note)
                + (onHost == 0 ? "" : "; " + device + " runs " + onHost + " of " + ops + (widens
                ? " ops on float32 copies of their 16-bit views, converted on the device (no 16-bit " + device + " kernel yet): "
                : " ops on the reference kernels with float host copies (no 16-bit " + device + " kernel yet): ") + host);
    }

    /**
     * Op name to count of the step's nodes this device has no kernel for at their types (its fallback runs them);
     * with {@code widened}, only those whose float32 kernel runs on widened copies (Note [Widened 16-bit runs]), else
     * only those with no kernel at all where the device widens.
     */
    private Map<String, Integer> withoutKernel(boolean widened) {
        org.leanseg.ops.Device<?, ?> device = org.leanseg.ops.Device.of(backend);
        Map<String, Integer> missing = new java.util.TreeMap<>();
        for (Executor ex : optimizer == null ? java.util.List.of(step) : java.util.List.of(step, optimizer)) {
            for (org.leanseg.graph.Node n : ex.schedule()) {
                java.util.List<org.leanseg.tensor.TensorSpec> in = n.inputs().stream().map(Value::spec).toList();
                java.util.List<org.leanseg.tensor.TensorSpec> out = n.outputs().stream().map(Value::spec).toList();
                if (org.leanseg.ops.Ops.cell(device, n.op(), in, out) == null) {
                    boolean wide = device.fallback() == org.leanseg.ops.Device.Fallback.WIDEN_16 && org.leanseg.ops.Ops.cell(device, n.op()) != null;
                    if (wide == widened || device.fallback() == org.leanseg.ops.Device.Fallback.HOST_REFERENCE) {
                        missing.merge(n.op().name(), 1, Integer::sum);
                    }
                }
            }
        }
        return missing;
    }

    /** Copies device-resident variables (weights, BN statistics, optimizer state) back to the host store. */
    void syncVariables() {
        step.syncVariables();
        if (optimizer != null) {
            optimizer.syncVariables();
        }
    }

    /** With accumulation: applies and zeroes the accumulated gradients. */
    void update(float lr, long stepNumber) {
        if (optimizer != null) {
            optimizer.run(Map.of(graph.lr(), hyper(lr, stepNumber)));
        }
    }

    private Tensor hyper(float lr, long stepNumber) {
        float[] h = sgd.hyper(lr, stepNumber);
        return Tensor.of(Shape.of(h.length), h);
    }

    @Override
    public void close() {
        step.close();
        if (optimizer != null) {
            optimizer.close();
        }
    }
}
