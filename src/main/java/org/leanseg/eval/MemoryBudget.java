package org.leanseg.eval;

import java.util.function.Consumer;
import org.leanseg.backend.Backend;
import org.leanseg.backend.FreeMemory;

/**
 * The memory one evaluation inference may plan, and what to do with an image whose whole-image
 * plan is over it: slide windows of the training crop size with a stride of 2/3 of it (the
 * overlap mmsegmentation's configs use, 512 / 341). The budget is {@code eval.memory_budget} where
 * set, else the memory the backend could allocate when inference starts ({@link FreeMemory}: the
 * device's free memory, free host memory for the cpu backend, the heap's headroom for the
 * reference one): a model trained on small crops still runs a large image whole when it fits. The
 * switch is said once, through {@code log}; {@link Evaluator#used()} says what ran.
 *
 * <pre>{@code
 * MemoryBudget b = MemoryBudget.forInference(cfg.eval().memoryBudget(), backend, 512, 512, log::info);
 * try (Evaluator ev = new Evaluator(model, backend, store, 1, Inference.whole(false), b)) { ... }
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=MemoryBudgetTest}.
 *
 * @param bytes the most bytes (activation arena + weights + workspace) one inference may plan
 * @param source where the figure came from, for the log ("eval.memory_budget", "free host memory (MemAvailable)")
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

    /** {@code explicit} (eval.memory_budget) if not null, else what {@code backend} could allocate now. */
    public static MemoryBudget forInference(Long explicit, Backend backend, int cropHeight, int cropWidth, Consumer<String> log) {
        if (explicit != null) {
            return of(explicit, "eval.memory_budget", cropHeight, cropWidth, log);
        }
        FreeMemory free = backend.freeMemory();
        return of(Math.max(1, free.bytes()), free.source(), cropHeight, cropWidth, log);
    }

    /** Slide windows of the crop size, stride 2/3 of it, with the given flip setting. */
    public Inference fallback(boolean flip) {
        return Inference.slide(cropHeight, cropWidth, Math.max(1, cropHeight * 2 / 3), Math.max(1, cropWidth * 2 / 3), flip);
    }

    /** Bytes for messages: GiB or MiB with two decimals, KiB below one MiB. */
    static String mib(long bytes) {
        return bytes < 1 << 20 ? String.format("%.1f KiB", bytes / 1024.0)
                : bytes < 1L << 30 ? String.format("%.2f MiB", bytes / 1048576.0) : String.format("%.2f GiB", bytes / (double) (1L << 30));
    }
}
