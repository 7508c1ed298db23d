package org.leanseg.train;

import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainConfig;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.BatchSearch;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.recompute.BudgetException;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Precision;

/**
 * The trainer's memory decisions, made by planning its own step graph (the rewrites of its backend,
 * its optimizer and accumulation, built by {@link StepBuilder} as the trainer builds it) before anything is
 * allocated: {@code train.batch: auto} takes the largest batch whose planned peak fits
 * {@code train.memory_budget} under {@code train.recompute} ({@link BatchSearch}); a fixed batch
 * with a budget is checked against it. Each decision comes with the line the trainer logs.
 *
 * <pre>{@code
 * StepMemory.Choice c = StepMemory.batch(tc, modelConfig, 512, 512, optimizer, StepPasses.FUSED);
 * log.info(c.line());  // "train.batch=auto: batch 24, planned peak 5.87 GiB within train.memory_budget 6GiB (...)"
 * }</pre>
 * Check: {@code mvn -q test -Dtest=StepMemoryTest}.
 */
final class StepMemory {
    private StepMemory() {
    }

    /** The batch to train, and why. */
    record Choice(int batch, String line) {
    }

    /**
     * The budget a step may plan on a device that reports its memory (cuda): {@code budget}, or less where the device
     * has less free now than the budget plus {@code allowance} (the allocations outside the plan: scratch, constants,
     * allocation rounding; the CUDA context is already out of the free figure). So train.memory_budget set to the
     * card's whole memory plans within what the card can still give instead of running out of memory (issue 15 item 8).
     * {@code note} gets one line when the budget is lowered. Null budget or device: the budget unchanged.
     */
    static ByteSize deviceBudget(ByteSize budget, org.leanseg.backend.DeviceMemory device, long allowance,
                                 java.util.function.Consumer<String> note) {
        if (budget == null || device == null) {
            return budget;
        }
        long room = device.freeBytes() - allowance;
        if (budget.bytes() <= room) {
            return budget;
        }
        if (room <= 0) {
            throw new ConfigException("train.memory_budget " + budget + ": the device has " + ByteSize.format(device.freeBytes())
                    + " free, no room for a step beside the " + ByteSize.format(allowance) + " it needs outside the plan; "
                    + "free the GPU (nvidia-smi shows what holds it) or train with --set device=cpu");
        }
        ByteSize lowered = new ByteSize(room);
        note.accept("train.memory_budget " + budget + " is more than the device can take now: " + ByteSize.format(device.freeBytes())
                + " free (of " + ByteSize.format(device.totalBytes()) + ") less " + ByteSize.format(allowance)
                + " for allocations outside the plan; planning within " + lowered);
        return lowered;
    }

    /** The batch of {@code tc} ({@code auto} searched, a number checked against a budget when there is one). */
    static Choice batch(TrainConfig tc, ModelConfig model, int height, int width, OptimizerSettings optimizer, StepPasses passes) {
        return batch(tc, model, height, width, optimizer, passes, org.leanseg.memory.Workspace.OP, null);
    }

    /** As above, each node's workspace as the training device counts it, with the run's distillation (or null). */
    static Choice batch(TrainConfig tc, ModelConfig model, int height, int width, OptimizerSettings optimizer, StepPasses passes,
                        org.leanseg.memory.Workspace workspace, Distillation distill) {
        return batch(tc, tc.memoryBudget(), model, height, width, optimizer, passes, workspace, distill);
    }

    /** As above within {@code budget} (tc's, or {@link #deviceBudget}'s lowered one). */
    static Choice batch(TrainConfig tc, ByteSize budget, ModelConfig model, int height, int width, OptimizerSettings optimizer,
                        StepPasses passes, org.leanseg.memory.Workspace workspace, Distillation distill) {
        RecomputePolicy policy = tc.recompute();
        if (!tc.batch().isAuto()) {
            int b = tc.batch().value();
            if (budget == null) {
                return new Choice(b, null);
            }
            MemoryReport r = plan(model, b, height, width, optimizer, tc.accumulate(), passes.withRecompute(policy), workspace,
                    tc.precision(), distill);
            if (r.plannedPeakBytes() > budget.bytes()) {
                throw new ConfigException("train.batch: " + b + " needs a planned peak of " + ByteSize.format(r.plannedPeakBytes())
                        + " under train.recompute " + policy + ", over train.memory_budget " + budget
                        + "; lower train.batch, set train.recompute (stages, sqrt, auto:<bytes>) or use train.batch=auto");
            }
            return new Choice(b, "train.batch=" + b + ": planned peak " + ByteSize.format(r.plannedPeakBytes())
                    + " within train.memory_budget " + budget + ", recompute " + policy);
        }
        if (budget == null) {
            throw new ConfigException("train.batch: auto needs train.memory_budget (the device memory a step may plan), e.g. "
                    + "--set train.memory_budget=6GiB; or set train.batch to a number");
        }
        BatchSearch.Result<MemoryReport> r = BatchSearch.largest(
                (b, p) -> plan(model, b, height, width, optimizer, tc.accumulate(), passes.withRecompute(p), workspace, tc.precision(),
                        distill),
                MemoryReport::plannedPeakBytes, policy, budget, BatchSearch.MAX_BATCH);
        if (!r.fits()) {
            throw new ConfigException("train.batch: auto found no batch within train.memory_budget " + budget + ": batch 1 needs "
                    + ByteSize.format(r.peakBytes()) + " under train.recompute " + (policy.kind() == RecomputePolicy.Kind.AUTO ? "stages or sqrt" : policy.kind().budgeted() ? "stages" : policy)
                    + "; raise train.memory_budget, lower data.crop_size or set train.recompute=stages");
        }
        String next = r.nextPeakBytes() == 0 ? "the search's cap" : "batch " + (r.batch() + 1) + " would need " + ByteSize.format(r.nextPeakBytes());
        return new Choice(r.batch(), String.format("train.batch=auto: batch %d, planned peak %s within train.memory_budget %s (%s); "
                        + "recompute %s, +%.1f%% FLOPs; %d plans",
                r.batch(), ByteSize.format(r.peakBytes()), budget, next, policy, 100 * r.plan().recomputeRatio(), r.plansMade()));
    }

    /** The memory report of the trainer's step at {@code batch}, built as {@link StepRunner} builds it ({@link StepBuilder}). */
    static MemoryReport plan(ModelConfig model, int batch, int height, int width, OptimizerSettings optimizer, int accumulate,
                             StepPasses passes) {
        return plan(model, batch, height, width, optimizer, accumulate, passes, org.leanseg.memory.Workspace.OP, Precision.FP32, null);
    }

    /** As above, each node's workspace as the device counts it, activations in {@code precision}'s type. */
    static MemoryReport plan(ModelConfig model, int batch, int height, int width, OptimizerSettings optimizer, int accumulate,
                             StepPasses passes, org.leanseg.memory.Workspace workspace, Precision precision, Distillation distill) {
        try {
            return StepBuilder.training(new DeepLabV3Plus(model), batch, height, width).optimizer(optimizer).accumulate(accumulate)
                    .passes(passes).workspace(workspace).precision(precision).distill(distill).build().report();
        } catch (BudgetException e) {
            throw new ConfigException("train.recompute: " + e.getMessage());
        }
    }
}
