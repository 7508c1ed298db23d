package org.leanseg.profile;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.memory.Lifetime;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Planner;
import org.leanseg.graph.StageGroups;
import org.leanseg.memory.Workspace;
import org.leanseg.tensor.TensorSpec;

/**
 * Who holds the planned peak, by stage group ({@link StageGroups}): at the step where the most arena
 * bytes are live, each live buffer counts for the stage that wrote its current value — as an
 * activation (forward, recompute, step inputs) or a gradient (backward, optimizer) — and every
 * persistent tensor for the stage of the op that reads it (weights and BN buffers, optimizer state,
 * persistent gradient accumulators). With the workspace (one region, sized by the largest op) and
 * the arena gap (placement's loss to fragmentation), the rows add up to the planned peak exactly.
 * Beside that, per stage over the whole step: bytes saved for backward, the stage's arena peak,
 * its parameters' gradient bytes and its largest op scratch.
 *
 * <pre>{@code
 * StageBreakdown b = StageBreakdown.of(StepPlan.of(cfg, 2, 512, 512));
 * b.totalBytes() == plan.report().plannedPeakBytes();   // always
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=StageBreakdownTest}.
 *
 * @param stages one row per stage group, in schedule order
 * @param peakStep the schedule step with the most live arena bytes (the first such step)
 * @param peakPhase the phase of the op at that step
 * @param workspaceBytes the planned workspace: the largest scratch of one op
 * @param workspaceStage the stage of that op
 * @param arenaGapBytes arena bytes beyond the lower bound (fragmentation)
 * @param liveBytes arena bytes live at each schedule step (last entry: outputs kept after the step)
 * @param phases the schedule as runs of one phase, in order
 */
public record StageBreakdown(List<Stage> stages, int peakStep, Phase peakPhase, long workspaceBytes, String workspaceStage,
                             long arenaGapBytes, long[] liveBytes, List<PhaseRun> phases) {

    /**
     * One stage group. At the peak: {@code activationsAtPeakBytes}, {@code gradientsAtPeakBytes}
     * (arena), {@code weightsBytes} (parameters), {@code buffersBytes} (BN running statistics),
     * {@code optimizerStateBytes}, {@code persistentGradientsBytes} (accumulators). Over the step:
     * {@code savedForBackwardBytes}, {@code peakBytes} (most arena bytes live while its ops run),
     * {@code parameterGradientBytes} (its parameters' gradients, in the arena or accumulators),
     * {@code workspaceBytes} (its largest op scratch), {@code forwardFlops}.
     */
    public record Stage(String name, long activationsAtPeakBytes, long gradientsAtPeakBytes, long weightsBytes,
                        long buffersBytes, long optimizerStateBytes, long persistentGradientsBytes,
                        long savedForBackwardBytes, long peakBytes, long parameterGradientBytes, long workspaceBytes,
                        long forwardFlops) {
        /** What the stage holds at the peak. */
        public long atPeakBytes() {
            return activationsAtPeakBytes + gradientsAtPeakBytes + persistentBytes();
        }

        /** Weights, buffers, optimizer state and gradient accumulators: held for the whole step. */
        public long persistentBytes() {
            return weightsBytes + buffersBytes + optimizerStateBytes + persistentGradientsBytes;
        }
    }

    /** Schedule steps {@code [from, to)} all of one phase. */
    public record PhaseRun(Phase phase, int from, int to) {
    }

    /** Sum of the stages at the peak plus workspace and arena gap: the planned peak. */
    public long totalBytes() {
        return stages.stream().mapToLong(Stage::atPeakBytes).sum() + workspaceBytes + arenaGapBytes;
    }

    public static StageBreakdown of(StepPlan p) {
        return of(p.train().stepGraph(), p.schedule(), p.plan(), p.report(), p.step().workspace());
    }

    /** The breakdown of {@code plan} of {@code g} run as {@code schedule}, with its {@link MemoryReport}. */
    public static StageBreakdown of(Graph g, List<Node> schedule, MemoryPlan plan, MemoryReport report) {
        return of(g, schedule, plan, report, Workspace.OP);
    }

    /** As above, each node's workspace counted by {@code workspaceOf}, as the plan counted it. */
    public static StageBreakdown of(Graph g, List<Node> schedule, MemoryPlan plan, MemoryReport report, Workspace workspaceOf) {
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (int i = 0; i < schedule.size(); i++) {
            position.put(schedule.get(i), i);
        }
        Map<String, long[]> rows = new LinkedHashMap<>();
        for (MemoryReport.Stage s : report.stages()) {
            long[] r = row(rows, s.name());
            r[SAVED] = s.savedForBackwardBytes();
            r[PEAK] = s.peakBytes();
            r[FLOPS] = s.forwardFlops();
        }
        long[] live = Planner.liveBytes(plan.lifetimes(), schedule.size());
        int peak = 0;
        for (int i = 1; i < schedule.size(); i++) {
            peak = live[i] > live[peak] ? i : peak;
        }
        atPeak(plan, position, peak, rows);
        persistent(g, position, schedule, rows);
        long workspace = 0;
        String workspaceStage = "";
        for (Node n : schedule) {
            List<TensorSpec> specs = n.inputs().stream().map(Value::spec).toList();
            long ws = workspaceOf.bytes(n, specs);
            long[] r = row(rows, StageGroups.group(n.stage()));
            r[WORKSPACE] = Math.max(r[WORKSPACE], ws);
            if (ws > workspace) {
                workspace = ws;
                workspaceStage = StageGroups.group(n.stage());
            }
            if (n.phase() == Phase.OPTIMIZER) {
                for (Value in : n.inputs()) {
                    if (in.role() == Role.ACTIVATION && in.producer() != null && in.producer().phase() == Phase.BACKWARD) {
                        row(rows, StageGroups.group(n.stage()))[PARAM_GRADS] += in.bytes();
                    }
                }
            }
        }
        List<Stage> stages = new ArrayList<>();
        rows.forEach((k, r) -> stages.add(new Stage(k, r[ACT], r[GRAD], r[WEIGHTS], r[BUFFERS], r[OPTIM], r[PERSISTENT_GRADS],
                r[SAVED], r[PEAK], r[PARAM_GRADS], r[WORKSPACE], r[FLOPS])));
        Phase peakPhase = schedule.isEmpty() ? Phase.FORWARD : schedule.get(peak).phase();
        return new StageBreakdown(List.copyOf(stages), peak, peakPhase, workspace, workspaceStage,
                plan.arenaBytes() - plan.lowerBoundBytes(), live, phases(schedule));
    }

    private static final int ACT = 0;
    private static final int GRAD = 1;
    private static final int WEIGHTS = 2;
    private static final int BUFFERS = 3;
    private static final int OPTIM = 4;
    private static final int PERSISTENT_GRADS = 5;
    private static final int SAVED = 6;
    private static final int PEAK = 7;
    private static final int PARAM_GRADS = 8;
    private static final int WORKSPACE = 9;
    private static final int FLOPS = 10;

    private static long[] row(Map<String, long[]> rows, String stage) {
        return rows.computeIfAbsent(stage, k -> new long[11]);
    }

    /**
     * Each buffer live at {@code peak} counts for the value that last wrote it by then (a buffer
     * holds several values when ops run in place: a BN output, then its input gradient).
     */
    private static void atPeak(MemoryPlan plan, Map<Node, Integer> position, int peak, Map<String, long[]> rows) {
        Map<Value, Value> current = new IdentityHashMap<>();
        for (Lifetime b : plan.lifetimes()) {
            if (b.first() <= peak && peak <= b.last()) {
                current.put(b.value(), b.value());
            }
        }
        plan.aliases().forEach((member, root) -> {
            Value cur = current.get(root);
            if (cur != null && writtenAt(member, position) <= peak && writtenAt(member, position) > writtenAt(cur, position)) {
                current.put(root, member);
            }
        });
        for (Lifetime b : plan.lifetimes()) {
            Value v = current.get(b.value());
            if (v == null) {
                continue;
            }
            boolean gradient = v.producer() != null
                    && (v.producer().phase() == Phase.BACKWARD || v.producer().phase() == Phase.OPTIMIZER);
            row(rows, StageGroups.group(v.stage()))[gradient ? GRAD : ACT] += Planner.align(b.bytes());
        }
    }

    private static int writtenAt(Value v, Map<Node, Integer> position) {
        return v.producer() == null ? -1 : position.getOrDefault(v.producer(), -1);
    }

    /** Persistent tensors the schedule touches, by the stage of their first reader. */
    private static void persistent(Graph g, Map<Node, Integer> position, List<Node> schedule, Map<String, long[]> rows) {
        for (Value v : g.variables().values()) {
            Node first = null;
            for (Node u : v.users()) {
                if (position.containsKey(u) && (first == null || position.get(u) < position.get(first))) {
                    first = u;
                }
            }
            if (first == null) {
                continue;
            }
            int slot = switch (v.role()) {
                case PARAMETER -> WEIGHTS;
                case BUFFER -> BUFFERS;
                case OPTIMIZER_STATE -> OPTIM;
                case GRADIENT -> PERSISTENT_GRADS;
                default -> -1;
            };
            if (slot >= 0) {
                long[] r = row(rows, StageGroups.group(first.stage()));
                r[slot] += v.bytes();
                if (slot == PERSISTENT_GRADS) {
                    r[PARAM_GRADS] += v.bytes();
                }
            }
        }
    }

    private static List<PhaseRun> phases(List<Node> schedule) {
        List<PhaseRun> runs = new ArrayList<>();
        int from = 0;
        for (int i = 1; i <= schedule.size(); i++) {
            if (i == schedule.size() || schedule.get(i).phase() != schedule.get(from).phase()) {
                runs.add(new PhaseRun(schedule.get(from).phase(), from, i));
                from = i;
            }
        }
        return List.copyOf(runs);
    }
}
