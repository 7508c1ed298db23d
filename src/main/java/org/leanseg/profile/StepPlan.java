package org.leanseg.profile;

import java.util.List;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.Precision;
import org.leanseg.train.Distillation;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.Step;
import org.leanseg.train.StepBuilder;
import org.leanseg.train.TrainGraph;

/**
 * The planning-only path: the whole training step (forward, loss, backward, SGD) of a model at a
 * batch shape, built and planned by {@link StepBuilder} as the trainer builds it, without
 * allocating any tensor. What {@code leanseg plan} prints; {@code leanseg profile} runs this very
 * plan ({@code network} is the traced model, {@link #step()} the built step).
 *
 * <pre>{@code
 * StepPlan p = StepPlan.of(ModelConfig.of("deeplabv3plus_mobilenetv2"), 2, 512, 512);
 * p.report().activationPeakBytes();
 * StepPlan s = StepPlan.of(cfg, 2, 512, 512, StepPasses.FUSED.withRecompute(RecomputePolicy.stages()));
 * }</pre>
 * Check: {@code mvn -q test -Dtest=PlanCommandTest+PlanMatchesTrainerTest}.
 */
public record StepPlan(ModelConfig model, DeepLabV3Plus network, Step step) {

    /** Plans one SGD training step of {@code model} on [batch, 3, height, width] images with the default rewrites. */
    public static StepPlan of(ModelConfig model, int batch, int height, int width) {
        return of(model, batch, height, width, StepPasses.FUSED);
    }

    /** As {@link #of(ModelConfig, int, int, int)} with the given rewrites (fusion, recompute policy). */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes) {
        return of(model, batch, height, width, passes, OptimizerSettings.pytorchDefault(), 1);
    }

    /** The step the trainer runs: its optimizer (AdamW adds state) and gradient accumulation. */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes,
                              OptimizerSettings optimizer, int accumulate) {
        return of(model, batch, height, width, passes, optimizer, accumulate, Device.REFERENCE);
    }

    /** As above, each node's workspace as {@code device}'s kernels need it (Note [cpu workspace]). */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes,
                              OptimizerSettings optimizer, int accumulate, Device<?, ?> device) {
        return of(model, batch, height, width, passes, optimizer, accumulate, device, Precision.FP32, null);
    }

    /** As above in {@code precision} (Note [Mixed precision]: 16-bit activations and gradients take 2 bytes). */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes,
                              OptimizerSettings optimizer, int accumulate, Device<?, ?> device, Precision precision) {
        return of(model, batch, height, width, passes, optimizer, accumulate, device, precision, null);
    }

    /** As above, distilled from a teacher (Note [Distillation loss]: its forward is the stage {@code teacher}); null for none. */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes,
                              OptimizerSettings optimizer, int accumulate, Device<?, ?> device, Precision precision,
                              Distillation distill) {
        DeepLabV3Plus network = new DeepLabV3Plus(model);
        return new StepPlan(model, network, StepBuilder.training(network, batch, height, width).optimizer(optimizer)
                .accumulate(accumulate).passes(passes).workspace(Ops.workspace(device)).precision(precision).distill(distill).build());
    }

    public int batch() {
        return step.batch();
    }

    public int height() {
        return step.height();
    }

    public int width() {
        return step.width();
    }

    public StepPasses passes() {
        return step.passes();
    }

    public List<Node> schedule() {
        return step.schedule();
    }

    public MemoryPlan plan() {
        return step.plan();
    }

    public MemoryReport report() {
        return step.report();
    }

    /** Wall time of building and planning the step. */
    public long planMillis() {
        return step.buildMillis();
    }

    public TrainGraph train() {
        return step.train();
    }
}
