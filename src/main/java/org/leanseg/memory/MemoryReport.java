package org.leanseg.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.StageGroups;
import org.leanseg.graph.Value;
import org.leanseg.tensor.TensorSpec;

/**
 * What a {@link MemoryPlan} costs, in the terms of issue 4: the planned peak (activation arena +
 * persistent tensors + workspace), the arena against its lower bound, the bytes kept across the
 * forward/backward boundary, FLOPs, and the same per stage. Data only; built without a device.
 *
 * <pre>{@code
 * List<Node> schedule = DeadCode.schedule(g);
 * MemoryReport r = MemoryReport.of(g, schedule, Planner.plan(g, schedule));
 * r.savedForBackwardBytes();
 * }</pre>
 * Checked by {@code MemoryReportTest}.
 */
public record MemoryReport(long plannedPeakBytes, long activationPeakBytes, long lowerBoundBytes,
                           long savedForBackwardBytes, Persistent persistent, long workspaceBytes,
                           long forwardFlops, long recomputeFlops, long backwardFlops, long optimizerFlops,
                           List<Stage> stages) {

    /** Persistent bytes by role. Without accumulation gradients are arena activations, so 0 here. */
    public record Persistent(long weightsBytes, long gradientsBytes, long optimizerStateBytes, long buffersBytes) {
        public long totalBytes() {
            return weightsBytes + gradientsBytes + optimizerStateBytes + buffersBytes;
        }
    }

    /**
     * One stage group (see {@link StageGroups}): bytes its forward values keep for backward, the
     * most arena bytes live while any of its ops (forward, backward or recompute) runs, and the
     * FLOPs of its forward ops.
     */
    public record Stage(String name, long savedForBackwardBytes, long peakBytes, long forwardFlops) {
    }

    /**
     * FLOPs of the training step without recomputation: forward + backward + optimizer (the
     * backward ops are the same under every recompute policy).
     */
    public long stepFlops() {
        return forwardFlops + backwardFlops + optimizerFlops;
    }

    /** What recomputation adds to the step: {@code recomputeFlops / stepFlops()}. */
    public double recomputeRatio() {
        long step = stepFlops();
        return step == 0 ? 0 : (double) recomputeFlops / step;
    }

    /** Bytes of weights, persistent gradients, optimizer state and buffers. */
    public long persistentBytes() {
        return persistent.totalBytes();
    }

    /** Analyses {@code plan} of {@code g} run as {@code schedule} (the nodes kept by dead-code removal). */
    public static MemoryReport of(Graph g, List<Node> schedule, MemoryPlan plan) {
        return of(g, schedule, plan, Workspace.OP);
    }

    /** As {@link #of(Graph, List, MemoryPlan)}, each node's workspace from {@code workspaceOf} (a device's own scratch). */
    public static MemoryReport of(Graph g, List<Node> schedule, MemoryPlan plan, Workspace workspaceOf) {
        Set<Node> scheduled = Collections.newSetFromMap(new IdentityHashMap<>());
        scheduled.addAll(schedule);
        Map<String, long[]> stages = new LinkedHashMap<>(); // name -> {saved, peak, flops}
        long[] live = Planner.liveBytes(plan.lifetimes(), schedule.size());
        long forwardFlops = 0;
        long recomputeFlops = 0;
        long backwardFlops = 0;
        long optimizerFlops = 0;
        long workspace = 0;
        for (int step = 0; step < schedule.size(); step++) {
            Node n = schedule.get(step);
            List<TensorSpec> specs = n.inputs().stream().map(Value::spec).toList();
            long redone = n.op().recomputedFlops(specs); // a fused op's own recomputation (Op.recomputedFlops)
            long flops = n.op().flops(specs) - redone;
            recomputeFlops += redone;
            long[] st = stages.computeIfAbsent(StageGroups.group(n.stage()), k -> new long[3]);
            if (n.phase() == Phase.FORWARD) {
                forwardFlops += flops;
                st[2] += flops;
            } else if (n.phase() == Phase.RECOMPUTE) {
                recomputeFlops += flops;
            } else if (n.phase() == Phase.BACKWARD) {
                backwardFlops += flops;
            } else {
                optimizerFlops += flops;
            }
            st[1] = Math.max(st[1], live[step]);
            workspace = Math.max(workspace, workspaceOf.bytes(n, specs));
        }
        long saved = 0;
        for (Value v : g.values()) {
            if (plan.planned(v) && savedForBackward(v, scheduled)) {
                saved += v.bytes();
                stages.computeIfAbsent(StageGroups.group(v.stage()), k -> new long[3])[0] += v.bytes();
            }
        }
        List<Stage> stageList = new ArrayList<>();
        stages.forEach((k, a) -> stageList.add(new Stage(k, a[0], a[1], a[2])));
        Persistent persistent = persistent(g, scheduled);
        long arena = plan.arenaBytes();
        return new MemoryReport(arena + persistent.totalBytes() + workspace, arena, plan.lowerBoundBytes(), saved,
                persistent, workspace, forwardFlops, recomputeFlops, backwardFlops, optimizerFlops, List.copyOf(stageList));
    }

    /** A step input or forward activation that a backward or recompute op reads. */
    static boolean savedForBackward(Value v, Set<Node> scheduled) {
        boolean forwardValue = v.role() == Role.INPUT
                || (v.role() == Role.ACTIVATION && v.producer().phase() == Phase.FORWARD);
        if (!forwardValue) {
            return false;
        }
        for (Node u : v.users()) {
            if (scheduled.contains(u) && u.phase().backwardSide()) {
                return true;
            }
        }
        return false;
    }

    private static Persistent persistent(Graph g, Set<Node> scheduled) {
        long[] byRole = new long[Role.values().length];
        for (Value v : g.variables().values()) {
            if (v.users().stream().anyMatch(scheduled::contains)) {
                byRole[v.role().ordinal()] += v.bytes();
            }
        }
        return new Persistent(byRole[Role.PARAMETER.ordinal()], byRole[Role.GRADIENT.ordinal()],
                byRole[Role.OPTIMIZER_STATE.ordinal()], byRole[Role.BUFFER.ordinal()]);
    }
}
