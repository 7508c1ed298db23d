package org.leanseg.memory.recompute;

import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;

/**
 * A memory budget that no recompute choice meets: even with every stage recomputed (the most
 * {@code auto} does) the step's planned peak is over it. The message gives the peak, its parts and
 * what to change.
 *
 * <pre>{@code
 * try { new TrainGraph(model, 64, 512, 512, sgd, 1, StepPasses.FUSED.withRecompute(RecomputePolicy.parse("auto:1GiB"))); }
 * catch (BudgetException e) { System.err.println(e.getMessage()); }  // "auto:1GiB: even recomputing every stage or sqrt segment ..."
 * }</pre>
 * Check: {@code mvn -q test -Dtest=RecomputePolicyTest}.
 */
public class BudgetException extends RuntimeException {
    private final long budgetBytes;
    private final long neededBytes;

    public BudgetException(ByteSize budget, MemoryReport mostRecomputed) {
        this("auto-greedy", "every stage", budget, mostRecomputed);
    }

    /** {@code policy} (its spelling without the budget) could not fit even recomputing {@code most}. */
    public BudgetException(String policy, String most, ByteSize budget, MemoryReport mostRecomputed) {
        super(String.format("%s:%s: even recomputing %s the step's planned peak is %s (activations %s + persistent %s"
                        + " + workspace %s), over the %s budget by %s; lower the batch or the image size, or raise the budget",
                policy, budget, most, ByteSize.format(mostRecomputed.plannedPeakBytes()), ByteSize.format(mostRecomputed.activationPeakBytes()),
                ByteSize.format(mostRecomputed.persistentBytes()), ByteSize.format(mostRecomputed.workspaceBytes()), budget,
                ByteSize.format(mostRecomputed.plannedPeakBytes() - budget.bytes())));
        this.budgetBytes = budget.bytes();
        this.neededBytes = mostRecomputed.plannedPeakBytes();
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** The planned peak with the most recomputation. */
    public long neededBytes() {
        return neededBytes;
    }
}
