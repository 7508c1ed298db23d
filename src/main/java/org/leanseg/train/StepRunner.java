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
    private final Distillation distill;
    private StepPasses passes;
    private Step built;
    private TrainGraph graph;
    private Executor step;
    private Executor optimizer;

    StepRunner(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate, Backend backend,
               VariableStore store, Consumer<String> log) {
        this(model, batch, height, width, sgd, accumulate, backend, store, StepPasses.forBackend(backend.name()), null, null, log);
    }

    /**
     * With the given rewrites (the backend's, with the run's recompute policy), loss class weights (or
     * null) and distillation (or null; its teacher's weights already in {@code store}).
     */
    StepRunner(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate, Backend backend,
               VariableStore store, StepPasses passes, float[] classWeights, Distillation distill, Consumer<String> log) {
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
        this.distill = distill;
        this.passes = passes;
        build();
    }

    /** Builds the step with {@link StepBuilder} and runs the builder's plans (what {@code plan} reports). */
    private void build() {
        try {
            built = StepBuilder.training(model, batch, height, width).optimizer(sgd).accumulate(accumulate).passes(passes)
                    .classWeights(classWeights).distill(distill).workspace(org.leanseg.ops.Ops.workspace(org.leanseg.ops.Device.of(backend))).build();
        } catch (BudgetException e) {
            throw new ConfigException("train.recompute: " + e.getMessage(), e);
        }
        graph = built.train();
        step = built.executor(backend, store, Executor.Options.defaults());
        optimizer = built.optimizerExecutor(backend, store, Executor.Options.defaults());
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
