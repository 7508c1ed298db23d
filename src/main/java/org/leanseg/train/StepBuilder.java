package org.leanseg.train;

import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.Workspace;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.tensor.Precision;

/**
 * The one step builder: DESIGN.md's data flow as one method. {@link #build()} traces the model in
 * train mode, applies the rewrites before autograd (in-place BN/GN, ReLU·depthwise fusion), adds
 * the loss, autograd and the optimizer ({@link TrainGraph}), then the rewrites after autograd (the
 * cheap-op choice and the recompute policy, whose {@code auto} trials are planned as below), and
 * plans each graph through {@link GraphPlan#of}: dead-code removal, in-place planning (Note [One
 * in-place rule]), the plan and its report, workspace counted by one {@link Workspace} function.
 * {@code train} ({@link StepRunner}, the eval budget), {@code plan} and {@code profile}
 * ({@code StepPlan}), {@code train.batch=auto} ({@link StepMemory}) and {@code eval}'s budget all
 * build their step here, and executors run the plan the builder made ({@link Step#executor}), so
 * none of them can plan another arena than the others.
 *
 * <pre>{@code
 * Step s = StepBuilder.training(new DeepLabV3Plus(cfg), 2, 512, 512)
 *         .passes(StepPasses.forBackend(backend.name()).withRecompute(RecomputePolicy.stages()))
 *         .optimizer(sgd).accumulate(1)
 *         .build();
 * s.report().plannedPeakBytes();                       // what plan prints
 * try (Executor ex = s.executor(backend, store, Executor.Options.defaults())) { ... }  // what train runs
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=PlanMatchesTrainerTest}.
 */
public final class StepBuilder {
    private final DeepLabV3Plus model;
    private final int batch;
    private final int height;
    private final int width;
    private OptimizerSettings optimizer = OptimizerSettings.pytorchDefault();
    private int accumulate = 1;
    private StepPasses passes = StepPasses.FUSED;
    private float[] classWeights;
    private Workspace workspace = Workspace.OP;
    private Precision precision = Precision.FP32;
    private Distillation distill;

    private StepBuilder(DeepLabV3Plus model, int batch, int height, int width) {
        this.model = model;
        this.batch = batch;
        this.height = height;
        this.width = width;
    }

    /** One training step of {@code model} on [batch, 3, height, width] images: SGD defaults, no accumulation, fused passes. */
    public static StepBuilder training(DeepLabV3Plus model, int batch, int height, int width) {
        return new StepBuilder(model, batch, height, width);
    }

    /** The optimizer (AdamW adds state) and its hyper-parameters. */
    public StepBuilder optimizer(OptimizerSettings settings) {
        this.optimizer = settings;
        return this;
    }

    /** Micro-batches per update (> 1: persistent gradient accumulators and a separate optimizer graph). */
    public StepBuilder accumulate(int microBatches) {
        this.accumulate = microBatches;
        return this;
    }

    /** The rewrites and recompute policy: a device's are {@code StepPasses.forBackend(backend.name())}. */
    public StepBuilder passes(StepPasses stepPasses) {
        this.passes = stepPasses;
        return this;
    }

    /** Per-class loss weights ({@code train.class_weights}); null for none. */
    public StepBuilder classWeights(float[] weights) {
        this.classWeights = weights;
        return this;
    }

    /** Activations and their gradients in 16 bits (Note [Mixed precision]); fp32 by default. */
    public StepBuilder precision(Precision p) {
        this.precision = p;
        return this;
    }

    /** Distils from a teacher inside the step (Note [Distillation loss]); null for none. */
    public StepBuilder distill(Distillation distillation) {
        this.distill = distillation;
        return this;
    }

    /** How a node's workspace is counted (default {@link Workspace#OP}); a device with its own scratch plugs in here. */
    public StepBuilder workspace(Workspace workspaceOf) {
        this.workspace = workspaceOf;
        return this;
    }

    /**
     * Builds and plans the step; throws {@code BudgetException} when {@code auto:<bytes>} cannot fit
     * even with every stage recomputed.
     */
    public Step build() {
        long t0 = System.nanoTime();
        // auto's trial plans are made as this builder plans (its workspace); other choices plan nothing
        StepPasses planned = passes.recompute() instanceof RecomputePolicy policy
                ? passes.withRecompute(policy.plannedWith(workspace)) : passes;
        TrainGraph graphs = new TrainGraph(model, batch, height, width, optimizer, accumulate, planned, classWeights, precision,
                distill);
        GraphPlan step = GraphPlan.of(graphs.stepGraph(), workspace);
        GraphPlan update = graphs.optimizerGraph() == null ? null : GraphPlan.of(graphs.optimizerGraph(), workspace);
        return new Step(step, update, graphs, passes, workspace, batch, height, width, (System.nanoTime() - t0) / 1_000_000);
    }
}
