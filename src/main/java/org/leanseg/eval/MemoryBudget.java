package org.leanseg.eval;

import java.util.function.Consumer;

/**
 * The memory one evaluation inference may plan, and what to do with an image whose whole-image
 * plan is over it: slide windows of the training crop size with a stride of 2/3 of it (the
 * overlap mmsegmentation's configs use, 512 / 341). The budget is the training step's planned
 * peak unless {@code eval.memory_budget} names one, so validation never needs more memory than
 * training did. The switch is said once, through {@code log}.
 *
 * <pre>{@code
 * MemoryBudget b = MemoryBudget.of(stepPeakBytes, "the training step's planned peak", 512, 512, log::info);
 * try (Evaluator ev = new Evaluator(model, backend, store, 1, Inference.whole(false), b)) { ... }
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=MemoryBudgetTest}.
 *
 * @param bytes the most bytes (activation arena + weights + workspace) one inference may plan
 * @param source where the figure came from, for the log ("eval.memory_budget", "the training step's planned peak")
 * @param cropHeight fallback window height (the training crop)
 * @param cropWidth fallback window width
 * @param log where the one-time switch message goes
 */
public record MemoryBudget(long bytes, String source, int cropHeight, int cropWidth, Consumer<String> log) {
    public MemoryBudget {
        if (bytes < 1 || cropHeight < 1 || cropWidth < 1) {
            throw new IllegalArgumentException("memory budget needs bytes >= 1 and a positive crop, got " + bytes + " B, "
                    + cropHeight + "x" + cropWidth);
        }
    }

    public static MemoryBudget of(long bytes, String source, int cropHeight, int cropWidth, Consumer<String> log) {
        return new MemoryBudget(bytes, source, cropHeight, cropWidth, log);
    }

    /** Slide windows of the crop size, stride 2/3 of it, with the given flip setting. */
    public Inference fallback(boolean flip) {
        return Inference.slide(cropHeight, cropWidth, Math.max(1, cropHeight * 2 / 3), Math.max(1, cropWidth * 2 / 3), flip);
    }

    /** Bytes for messages: MiB with two decimals, KiB below one MiB. */
    static String mib(long bytes) {
        return bytes < 1 << 20 ? String.format("%.1f KiB", bytes / 1024.0) : String.format("%.2f MiB", bytes / 1048576.0);
    }
}
