package org.leanseg.profile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.nn.Trace;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.tensor.TensorSpec;

/**
 * A layer table of a model's inference graph: per op with parameters (and the resizes, concats
 * and pools between them), its output shape, parameter count and multiply-accumulates; totals per
 * part (backbone, aspp, decoder) and overall.
 */
public final class ModelSummary {
    /** One row. */
    public record Row(String stage, String op, String outputShape, long params, long macs) {
    }

    private final List<Row> rows = new ArrayList<>();
    private final Map<String, long[]> parts = new LinkedHashMap<>();
    private long totalParams;
    private long totalMacs;

    public ModelSummary(DeepLabV3Plus model, int batch, int height, int width) {
        Graph g = new Graph();
        Value x = g.input("image", TensorSpec.f32(batch, 3, height, width));
        model.forward(new Trace(g, false), x);
        for (Node n : g.nodes()) {
            long params = 0;
            for (Value in : n.inputs()) {
                if (in.role() == Role.PARAMETER) {
                    params += in.spec().shape().numel();
                }
            }
            List<org.leanseg.tensor.TensorSpec> specs = n.inputs().stream().map(Value::spec).toList();
            long macs = n.op() instanceof Conv2d ? n.op().flops(specs) / 2 : 0;
            if (n.op() instanceof Conv2d c && n.inputs().size() > 2) {
                macs = (n.op().flops(specs) - n.output(0).spec().shape().numel()) / 2;
            }
            String part = n.stage().contains(".") ? n.stage().substring(0, n.stage().indexOf('.')) : n.stage();
            long[] p = parts.computeIfAbsent(part, k -> new long[2]);
            p[0] += params;
            p[1] += macs;
            totalParams += params;
            totalMacs += macs;
            rows.add(new Row(n.stage(), n.op().name(), n.output(0).spec().shape().toString(), params, macs));
        }
    }

    public List<Row> rows() {
        return rows;
    }

    public long totalParams() {
        return totalParams;
    }

    public long totalMacs() {
        return totalMacs;
    }

    /** Part name to {params, MACs}. */
    public Map<String, long[]> parts() {
        return parts;
    }

    /** The table as text; {@code verbose} lists every op, else only ops with parameters or MACs. */
    public String format(boolean verbose) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-44s %-22s %-20s %12s %14s%n", "stage", "op", "output", "params", "MACs"));
        for (Row r : rows) {
            if (verbose || r.params() > 0 || r.macs() > 0) {
                sb.append(String.format("%-44s %-22s %-20s %,12d %,14d%n", r.stage(), r.op(), r.outputShape(), r.params(), r.macs()));
            }
        }
        sb.append(String.format("%n%-44s %12s %14s%n", "part", "params", "GMACs"));
        parts.forEach((k, v) -> sb.append(String.format("%-44s %,12d %14.3f%n", k, v[0], v[1] / 1e9)));
        sb.append(String.format("%-44s %,12d %14.3f%n", "total", totalParams, totalMacs / 1e9));
        return sb.toString();
    }
}
