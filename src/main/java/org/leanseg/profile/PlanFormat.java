package org.leanseg.profile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.leanseg.memory.MemoryReport;

/**
 * {@link StepPlan} as text for {@code leanseg plan}: a terminal table, or JSON with the keys of
 * issue 4 ({@code plannedPeakBytes, activationPeakBytes, lowerBoundBytes, savedForBackwardBytes,
 * persistentBytes, workspaceBytes, forwardFlops, recomputeFlops, stages}) and a breakdown of the
 * persistent bytes.
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
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json(p));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The terminal table: per-stage rows, then the totals. */
    public static String table(StepPlan p) {
        MemoryReport r = p.report();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s, batch %d x 3 x %d x %d, training step (SGD), %s: %d ops, planned in %d ms%n%n",
                p.model(), p.batch(), p.height(), p.width(), p.passes().fuse() ? "fused" : "not fused",
                p.schedule().size(), p.planMillis()));
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
        sb.append(String.format("%-20s %12.2f GFLOP%n", "recompute", r.recomputeFlops() / 1e9));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String what, long bytes, String note) {
        sb.append(String.format("%-20s %12.1f MiB  %s%n", what, bytes / MIB, note));
    }
}
