package org.leanseg.profile;

import java.util.List;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Planner;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * The planning-only path: traces the whole training step (forward, loss, backward, SGD) of a model
 * at a batch shape, removes dead ops and plans the arena, without allocating any tensor. What
 * {@code leanseg plan} prints; {@code leanseg profile} runs this very plan ({@code network} and
 * {@code train} are the traced model and step graphs) and the trainer's executor plans the same way.
 *
 * <pre>{@code
 * StepPlan p = StepPlan.of(ModelConfig.of("deeplabv3plus_mobilenetv2"), 2, 512, 512);
 * p.report().activationPeakBytes();
 * StepPlan s = StepPlan.of(cfg, 2, 512, 512, StepPasses.FUSED.withRecompute(RecomputePolicy.stages()));
 * }</pre>
 * Check: {@code mvn -q test -Dtest=PlanCommandTest}.
 */
public record StepPlan(ModelConfig model, int batch, int height, int width, StepPasses passes, List<Node> schedule,
                       MemoryPlan plan, MemoryReport report, long planMillis, DeepLabV3Plus network, TrainGraph train) {

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

    /** As above, with the workspace the kernels of {@code device} need (Note [cpu workspace]). */
    public static StepPlan of(ModelConfig model, int batch, int height, int width, StepPasses passes,
                              OptimizerSettings optimizer, int accumulate, Device<?, ?> device) {
        long t0 = System.nanoTime();
        DeepLabV3Plus network = new DeepLabV3Plus(model);
        TrainGraph tg = new TrainGraph(network, batch, height, width, optimizer, accumulate, passes);
        List<Node> schedule = DeadCode.schedule(tg.stepGraph());
        MemoryPlan plan = Planner.plan(tg.stepGraph(), schedule, passes.fuse());
        MemoryReport report = MemoryReport.of(tg.stepGraph(), schedule, plan, Ops.workspace(device));
        long millis = (System.nanoTime() - t0) / 1_000_000;
        return new StepPlan(model, batch, height, width, passes, schedule, plan, report, millis, network, tg);
    }
}
