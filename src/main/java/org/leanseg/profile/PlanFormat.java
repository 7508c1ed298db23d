package org.leanseg.profile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Map;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.BatchSearch;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;

/**
 * {@link StepPlan} as text for {@code leanseg plan}: a terminal table, or JSON with the keys of
 * issue 4 ({@code plannedPeakBytes, activationPeakBytes, lowerBoundBytes, savedForBackwardBytes,
 * persistentBytes, workspaceBytes, forwardFlops, recomputeFlops, stages}), the recompute policy, the
 * step's other FLOPs ({@code backwardFlops, optimizerFlops, stepFlops}: forward + backward +
 * optimizer; {@code recomputeRatio} = recomputeFlops / stepFlops) and a breakdown of the persistent
 * bytes.
 */
public final class PlanFormat {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double MIB = 1024.0 * 1024.0;

    private PlanFormat() {
    }

    public static ObjectNode json(StepPlan p) {
        MemoryReport r = p.report();
        ObjectNode o = JSON.createObjectNode();
        o.put("model", p.model().name());
        o.put("batch", p.batch());
        o.put("height", p.height());
        o.put("width", p.width());
        o.put("fuse", p.passes().fuse());
        o.put("recompute", p.passes().recompute().toString());
        o.put("plannedPeakBytes", r.plannedPeakBytes());
        o.put("activationPeakBytes", r.activationPeakBytes());
        o.put("lowerBoundBytes", r.lowerBoundBytes());
        o.put("savedForBackwardBytes", r.savedForBackwardBytes());
        o.put("persistentBytes", r.persistentBytes());
        ObjectNode pers = o.putObject("persistent");
        pers.put("weightsBytes", r.persistent().weightsBytes());
        pers.put("gradientsBytes", r.persistent().gradientsBytes());
        pers.put("optimizerStateBytes", r.persistent().optimizerStateBytes());
        pers.put("buffersBytes", r.persistent().buffersBytes());
        o.put("workspaceBytes", r.workspaceBytes());
        o.put("forwardFlops", r.forwardFlops());
        o.put("recomputeFlops", r.recomputeFlops());
        o.put("backwardFlops", r.backwardFlops());
        o.put("optimizerFlops", r.optimizerFlops());
        o.put("stepFlops", r.stepFlops());
        o.put("recomputeRatio", r.recomputeRatio());
        o.put("ops", p.schedule().size());
        o.put("planMillis", p.planMillis());
        ArrayNode stages = o.putArray("stages");
        for (MemoryReport.Stage s : r.stages()) {
            ObjectNode e = stages.addObject();
            e.put("name", s.name());
            e.put("savedForBackwardBytes", s.savedForBackwardBytes());
            e.put("peakBytes", s.peakBytes());
            e.put("forwardFlops", s.forwardFlops());
        }
        return o;
    }

    public static String jsonText(StepPlan p) {
        return jsonText(json(p));
    }

    /** A JSON object as the plan prints it (pretty). */
    public static String jsonText(ObjectNode o) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code plan --device}'s measurement as JSON, or null when it ran on the host (nothing measured). */
    public static ObjectNode deviceJson(DeviceAllocation a) {
        if (a == null) {
            return null;
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("allocatedBytes", a.backendBytes());
        o.put("driverBytes", a.driverBytes());
        o.put("freeBeforeBytes", a.before().freeBytes());
        o.put("freeAfterBytes", a.after().freeBytes());
        o.put("totalBytes", a.after().totalBytes());
        return o;
    }

    /** {@code plan --device}'s measurement under the table: what the allocation took beside the plan. */
    public static String deviceLine(StepPlan p, DeviceAllocation a) {
        MemoryReport r = p.report();
        return String.format(Locale.ROOT, "%nmeasured on the device: arena + variables allocate %.2f MiB (planned %.2f MiB); "
                        + "the driver saw %.2f MiB taken (free %.2f -> %.2f of %.2f MiB, cudaMemGetInfo)%n",
                a.backendBytes() / MIB, (r.activationPeakBytes() + r.persistentBytes()) / MIB, a.driverBytes() / MIB,
                a.before().freeBytes() / MIB, a.after().freeBytes() / MIB, a.after().totalBytes() / MIB);
    }

    /** The terminal table: per-stage rows, then the totals. */
    public static String table(StepPlan p) {
        MemoryReport r = p.report();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s, batch %d x 3 x %d x %d, training step (SGD), %s, recompute %s: %d ops, planned in %d ms%n%n",
                p.model(), p.batch(), p.height(), p.width(), p.passes().fuse() ? "fused" : "not fused",
                p.passes().recompute(), p.schedule().size(), p.planMillis()));
        sb.append(String.format("%-24s %14s %14s %12s%n", "stage", "saved MiB", "peak MiB", "fwd GFLOP"));
        for (MemoryReport.Stage s : r.stages()) {
            sb.append(String.format("%-24s %14.1f %14.1f %12.2f%n", s.name(), s.savedForBackwardBytes() / MIB,
                    s.peakBytes() / MIB, s.forwardFlops() / 1e9));
        }
        sb.append('\n');
        line(sb, "planned peak", r.plannedPeakBytes(), "activations + persistent + workspace");
        line(sb, "activation arena", r.activationPeakBytes(), String.format("%.3f x lower bound",
                r.lowerBoundBytes() == 0 ? 1.0 : (double) r.activationPeakBytes() / r.lowerBoundBytes()));
        line(sb, "lower bound", r.lowerBoundBytes(), "most bytes live at one step");
        line(sb, "saved for backward", r.savedForBackwardBytes(), "forward values read by backward ops");
        line(sb, "persistent", r.persistentBytes(), "");
        line(sb, "  weights", r.persistent().weightsBytes(), "");
        line(sb, "  gradients", r.persistent().gradientsBytes(), "persistent only; per-step gradients are in the arena");
        line(sb, "  optimizer state", r.persistent().optimizerStateBytes(), "");
        line(sb, "  buffers", r.persistent().buffersBytes(), "BN running statistics");
        line(sb, "workspace", r.workspaceBytes(), "largest scratch of one op");
        sb.append(String.format("%-20s %12.2f GFLOP%n", "forward", r.forwardFlops() / 1e9));
        sb.append(String.format("%-20s %12.2f GFLOP%n", "backward", r.backwardFlops() / 1e9));
        sb.append(String.format("%-20s %12.2f GFLOP  %+.1f%% of the step (forward + backward + optimizer, %.2f GFLOP)%n",
                "recompute", r.recomputeFlops() / 1e9, 100 * r.recomputeRatio(), r.stepFlops() / 1e9));
        return sb.toString();
    }

    /** {@code plan --memory-budget} as JSON: the budget, then per policy the largest batch and its plan's figures. */
    public static ObjectNode budgetJson(ModelConfig model, int height, int width, StepPasses passes, ByteSize budget,
                                        Map<RecomputePolicy, BatchSearch.Result<StepPlan>> results) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", model.name());
        o.put("height", height);
        o.put("width", width);
        o.put("fuse", passes.fuse());
        o.put("memoryBudgetBytes", budget.bytes());
        ArrayNode rows = o.putArray("policies");
        results.forEach((policy, r) -> {
            ObjectNode e = rows.addObject();
            e.put("recompute", policy.toString());
            e.put("batch", r.batch());
            if (r.fits()) {
                MemoryReport rep = r.plan().report();
                e.put("choice", r.plan().passes().recompute().toString());
                e.put("plannedPeakBytes", rep.plannedPeakBytes());
                e.put("savedForBackwardBytes", rep.savedForBackwardBytes());
                e.put("recomputeFlops", rep.recomputeFlops());
                e.put("stepFlops", rep.stepFlops());
                e.put("recomputeRatio", rep.recomputeRatio());
            }
            e.put("nextBatchPeakBytes", r.nextPeakBytes());
        });
        return o;
    }

    public static String budgetJsonText(ModelConfig model, int height, int width, StepPasses passes, ByteSize budget,
                                        Map<RecomputePolicy, BatchSearch.Result<StepPlan>> results) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(budgetJson(model, height, width, passes, budget, results));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code plan --memory-budget}: one row per policy with the largest batch that fits and what its recomputation costs. */
    public static String budgetTable(ModelConfig model, int height, int width, StepPasses passes, ByteSize budget,
                                     Map<RecomputePolicy, BatchSearch.Result<StepPlan>> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s, %d x %d, training step (SGD), %s: largest batch whose planned peak "
                        + "(activations + persistent + workspace) fits %s (%d bytes)%n%n",
                model, height, width, passes.fuse() ? "fused" : "not fused", budget, budget.bytes()));
        sb.append(String.format("%-14s %6s %14s %14s %14s %12s %16s%n", "recompute", "batch", "planned peak", "saved for bwd",
                "recompute GF", "extra FLOPs", "batch+1 needs"));
        results.forEach((policy, r) -> {
            if (!r.fits()) {
                sb.append(String.format("%-14s %6s %14s %14s %14s %12s %16s%n", policy, "-", "", "", "", "",
                        ByteSize.format(r.nextPeakBytes()) + " at 1"));
                return;
            }
            MemoryReport rep = r.plan().report();
            sb.append(String.format("%-14s %6d %14s %14s %14.2f %11.1f%% %16s%n", policy, r.batch(),
                    ByteSize.format(rep.plannedPeakBytes()), ByteSize.format(rep.savedForBackwardBytes()),
                    rep.recomputeFlops() / 1e9, 100 * rep.recomputeRatio(),
                    r.nextPeakBytes() == 0 ? "(cap)" : ByteSize.format(r.nextPeakBytes())));
        });
        sb.append(String.format("%nextra FLOPs: recompute FLOPs / FLOPs of the step without recomputation "
                + "(forward + backward + optimizer) at that batch.%n"));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String what, long bytes, String note) {
        sb.append(String.format("%-20s %12.1f MiB  %s%n", what, bytes / MIB, note));
    }
}
