package org.leanseg.profile;

import java.util.List;
import java.util.Map;
import org.leanseg.backend.DeviceMemory;

/**
 * What {@link StepProfiler} measured while running real training steps of a {@link StepPlan}: per
 * step the wall time, loss, the largest heap scratch of one op and the high-water mark (arena +
 * variables + that scratch); for the steady state (the last step) where the bytes went; per stage
 * group the mean op time and largest scratch.
 *
 * <pre>{@code
 * Measured m = StepProfiler.run(plan, new ReferenceBackend(), 2, 1).measured();
 * m.highWaterBytes() - plan.report().plannedPeakBytes();   // measured minus planned
 * }</pre>
 *
 * @param backend the backend's name
 * @param threads kernel threads (reference backend)
 * @param steps one entry per step run, in order
 * @param arenaBytes arena bytes the backend allocated
 * @param variableBytes persistent variables it adopted (weights, buffers, optimizer state)
 * @param workspaceBytes the largest scratch one op allocated in the last step (-1: not measurable)
 * @param workspaceOp that op's name
 * @param workspaceStage that op's stage group
 * @param highWaterBytes the high-water of the last step, measured as {@code highWaterSource} says: on {@code cpu}
 *                       the native allocator's own peak counter (every arena, variable and workspace allocation as
 *                       it was made); on {@code reference} the arena and variables it allocated plus the heap bytes
 *                       the largest op's kernel allocated (per-thread allocation counters); -1 where not measurable
 * @param highWaterSource how {@code highWaterBytes} was measured, in words
 * @param runPeakBytes the backend's own peak over the whole run (step 1 includes class loading)
 * @param stages per stage group: mean milliseconds per step and largest op scratch of the last step
 * @param deviceBefore the device's free/total memory before the step's arena and variables were allocated
 *                     (null on the host)
 * @param deviceAfter the same after the last step (null on the host)
 * @param deviceReport device-specific lines (Backend.deviceReport: on cuda the context and the cuDNN algorithms chosen)
 * @param rss the process's resident memory over allocation and steps, a cross-check that counts what the
 *            backend's counters cannot see (library buffers, the JIT, Java heap growth); null where not taken
 */
public record Measured(String backend, int threads, List<Step> steps, long arenaBytes, long variableBytes,
                       long workspaceBytes, String workspaceOp, String workspaceStage, long highWaterBytes, String highWaterSource,
                       long runPeakBytes, Map<String, StageTime> stages, DeviceMemory deviceBefore, DeviceMemory deviceAfter,
                       List<String> deviceReport, ProcessMemory.Window rss) {

    /** The same figures with the resident-memory window {@code window} added. */
    public Measured withRss(ProcessMemory.Window window) {
        return new Measured(backend, threads, steps, arenaBytes, variableBytes, workspaceBytes, workspaceOp, workspaceStage,
                highWaterBytes, highWaterSource, runPeakBytes, stages, deviceBefore, deviceAfter, deviceReport, window);
    }

    /**
     * Device bytes the profiled run took as the driver sees them (free memory before minus after:
     * arena, variables, workspace, and what the libraries allocated lazily), or -1 on the host.
     */
    public long deviceRunBytes() {
        return deviceBefore == null || deviceAfter == null ? -1 : deviceBefore.freeBytes() - deviceAfter.freeBytes();
    }

    /** One training step: wall milliseconds, loss, largest op scratch, arena + variables + that scratch. */
    public record Step(int step, double stepMillis, float loss, long scratchBytes, long highWaterBytes) {
    }

    /** A stage group's mean op time per step (first step left out when there are more) and largest op scratch. */
    public record StageTime(double millis, long scratchBytes) {
    }

    /** Mean wall time of the steps after the first (of all when there is one). */
    public double meanStepMillis() {
        List<Step> s = steps.size() > 1 ? steps.subList(1, steps.size()) : steps;
        return s.stream().mapToDouble(Step::stepMillis).average().orElse(0);
    }
}
