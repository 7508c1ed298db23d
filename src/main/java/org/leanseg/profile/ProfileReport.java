package org.leanseg.profile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import org.leanseg.memory.MemoryReport;

/**
 * A {@link Profile} as the terminal summary of {@code leanseg profile} (like PaddlePaddle's memory
 * breakdown: who holds the peak, by stage, then planned against measured) and as
 * {@code report.json}: every key of {@code plan --json} ({@link PlanFormat}), each stage entry
 * extended with its share of the peak and its measured time and scratch, plus {@code atPeak},
 * {@code measured} and the live-bytes {@code timeline}.
 *
 * <pre>{@code
 * System.out.print(ProfileReport.summary(profile));
 * Files.writeString(dir.resolve("report.json"), ProfileReport.jsonText(profile));
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProfileCommandTest}.
 */
public final class ProfileReport {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double MIB = 1024.0 * 1024.0;

    private ProfileReport() {
    }

    /** One line naming what was profiled. */
    public static String title(Profile p) {
        StepPlan s = p.plan();
        return String.format(Locale.ROOT, "%s, batch %d x 3 x %d x %d, %s, recompute %s, %d step%s on the %s backend (%d threads)",
                s.model(), s.batch(), s.height(), s.width(), s.passes().fuse() ? "fused" : "not fused", s.passes().recompute(),
                p.measured().steps().size(), p.measured().steps().size() == 1 ? "" : "s", p.measured().backend(),
                p.measured().threads());
    }

    public static String summary(Profile p) {
        StageBreakdown b = p.breakdown();
        MemoryReport r = p.plan().report();
        Measured m = p.measured();
        long total = r.plannedPeakBytes();
        StringBuilder sb = new StringBuilder(title(p)).append("\n\n");
        sb.append(String.format(Locale.ROOT, "Held at the planned peak (schedule step %d of %d, %s), MiB%n",
                b.peakStep(), p.plan().schedule().size(), phaseName(b.peakPhase())));
        sb.append(String.format(Locale.ROOT, "%-24s %7s %10s %10s %10s %10s %10s%n", "stage", "%", "total", "activ.",
                "grads", "weights", "optim."));
        for (StageBreakdown.Stage s : b.stages()) {
            sb.append(String.format(Locale.ROOT, "%-24s %6.1f%% %10.2f %10.2f %10.2f %10.2f %10.2f%n", s.name(),
                    pct(s.atPeakBytes(), total), mib(s.atPeakBytes()), mib(s.activationsAtPeakBytes()),
                    mib(s.gradientsAtPeakBytes() + s.persistentGradientsBytes()), mib(s.weightsBytes() + s.buffersBytes()),
                    mib(s.optimizerStateBytes())));
        }
        sb.append(String.format(Locale.ROOT, "%-24s %6.1f%% %10.2f   largest op scratch (%s)%n", "workspace",
                pct(b.workspaceBytes(), total), mib(b.workspaceBytes()), b.workspaceStage()));
        sb.append(String.format(Locale.ROOT, "%-24s %6.1f%% %10.2f   arena above the lower bound (placement)%n", "arena gap",
                pct(b.arenaGapBytes(), total), mib(b.arenaGapBytes())));
        sb.append(String.format(Locale.ROOT, "%-24s %6.1f%% %10.2f%n%n", "total = planned peak", pct(b.totalBytes(), total),
                mib(b.totalBytes())));
        stageTable(sb, p);
        totals(sb, p);
        return sb.toString();
    }

    private static void stageTable(StringBuilder sb, Profile p) {
        Measured m = p.measured();
        double stepMs = m.stages().values().stream().mapToDouble(Measured.StageTime::millis).sum();
        sb.append("Per stage over the step, MiB (dW: its parameters' gradients; scratch: largest op, planned / measured)\n");
        sb.append(String.format(Locale.ROOT, "%-24s %9s %9s %9s %9s %9s %8s %9s %6s%n", "stage", "saved", "peak", "dW",
                "scratch", "measured", "GFLOP", "ms/step", "time"));
        for (StageBreakdown.Stage s : p.breakdown().stages()) {
            Measured.StageTime t = m.stages().get(s.name());
            double ms = t == null ? 0 : t.millis();
            sb.append(String.format(Locale.ROOT, "%-24s %9.2f %9.2f %9.2f %9.2f %9s %8.2f %9.1f %5.1f%%%n", s.name(),
                    mib(s.savedForBackwardBytes()), mib(s.peakBytes()), mib(s.parameterGradientBytes()), mib(s.workspaceBytes()),
                    t == null || t.scratchBytes() < 0 ? "-" : String.format(Locale.ROOT, "%.2f", mib(t.scratchBytes())),
                    s.forwardFlops() / 1e9, ms, pct(ms, stepMs)));
        }
        sb.append('\n');
    }

    private static void totals(StringBuilder sb, Profile p) {
        MemoryReport r = p.plan().report();
        Measured m = p.measured();
        sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB = arena %.2f + persistent %.2f + workspace %.2f%n", "planned peak",
                mib(r.plannedPeakBytes()), mib(r.activationPeakBytes()), mib(r.persistentBytes()), mib(r.workspaceBytes())));
        if (m.highWaterBytes() >= 0) {
            sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB, %s; %+.1f%% vs planned%n", "measured high-water",
                    mib(m.highWaterBytes()), m.highWaterSource(), 100.0 * (m.highWaterBytes() - r.plannedPeakBytes()) / Math.max(1, r.plannedPeakBytes())));
            sb.append(String.format(Locale.ROOT, "%-20s arena %.2f, variables %.2f, largest %s %.2f MiB%s%n", "  of which",
                    mib(m.arenaBytes()), mib(m.variableBytes()), m.backend().equals("cpu") ? "workspace" : "op scratch",
                    mib(m.workspaceBytes()), m.workspaceOp().isEmpty() ? "" : " (" + m.workspaceOp() + ", " + m.workspaceStage() + ")"));
        } else {
            sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB (the %s backend's own peak)%n", "measured high-water",
                    mib(m.runPeakBytes()), m.backend()));
        }
        rss(sb, m);
        if (m.deviceAfter() != null) {
            sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB taken by this run (free %.2f -> %.2f of %.2f MiB, cudaMemGetInfo; "
                            + "the backend allocated at most %.2f MiB)%n", "device memory", mib(m.deviceRunBytes()),
                    mib(m.deviceBefore().freeBytes()), mib(m.deviceAfter().freeBytes()), mib(m.deviceAfter().totalBytes()),
                    mib(m.runPeakBytes())));
        }
        for (String line : m.deviceReport()) {
            sb.append(line).append('\n');
        }
        sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB (%.3f x; arena / lower bound)%n", "lower bound",
                mib(r.lowerBoundBytes()), r.lowerBoundBytes() == 0 ? 1.0 : (double) r.activationPeakBytes() / r.lowerBoundBytes()));
        sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB%n", "saved for backward", mib(r.savedForBackwardBytes())));
        sb.append(String.format(Locale.ROOT, "%-20s %10.2f GFLOP (+%.1f%% of the step, %.2f GFLOP; recompute %s)%n", "recompute",
                r.recomputeFlops() / 1e9, 100 * r.recomputeRatio(), r.stepFlops() / 1e9, p.plan().passes().recompute()));
        StringBuilder steps = new StringBuilder();
        for (Measured.Step s : m.steps()) {
            steps.append(String.format(Locale.ROOT, "%s%d: %.0f ms (loss %.4f)", steps.length() == 0 ? "" : ", ", s.step(),
                    s.stepMillis(), s.loss()));
        }
        sb.append(String.format(Locale.ROOT, "%-20s %s%n", "step time", steps));
        sb.append(String.format(Locale.ROOT, "%-20s %10.0f ms, %.2f images/s%n", m.steps().size() > 1 ? "mean after step 1" : "mean",
                m.meanStepMillis(), p.plan().batch() * 1000.0 / Math.max(1e-9, m.meanStepMillis())));
    }

    /** The resident-memory cross-check: VmHWM after the steps minus VmRSS before the arena was allocated. */
    private static void rss(StringBuilder sb, Measured m) {
        ProcessMemory.Window w = m.rss();
        if (w == null) {
            return;
        }
        if (!w.known()) {
            sb.append(String.format(Locale.ROOT, "%-20s not measured (/proc/self/status unreadable)%n", "RSS growth"));
            return;
        }
        sb.append(String.format(Locale.ROOT, "%-20s %10.2f MiB (process resident memory over allocation and steps, VmHWM after minus "
                        + "VmRSS before%s; also counts library buffers, the JIT and Java heap growth)%n", "RSS growth",
                mib(w.growthBytes()), w.reset() ? "" : "; VmHWM could not be reset, so it is the process's whole-life peak"));
    }

    public static ObjectNode json(Profile p) {
        ObjectNode o = PlanFormat.json(p.plan());
        StageBreakdown b = p.breakdown();
        Measured m = p.measured();
        long total = p.plan().report().plannedPeakBytes();
        ArrayNode stages = o.putArray("stages");
        for (StageBreakdown.Stage s : b.stages()) {
            ObjectNode e = stages.addObject();
            e.put("name", s.name());
            e.put("savedForBackwardBytes", s.savedForBackwardBytes());
            e.put("peakBytes", s.peakBytes());
            e.put("forwardFlops", s.forwardFlops());
            e.put("weightsBytes", s.weightsBytes());
            e.put("buffersBytes", s.buffersBytes());
            e.put("optimizerStateBytes", s.optimizerStateBytes());
            e.put("gradientsBytes", s.parameterGradientBytes());
            e.put("workspaceBytes", s.workspaceBytes());
            ObjectNode at = e.putObject("atPeak");
            at.put("activationsBytes", s.activationsAtPeakBytes());
            at.put("gradientsBytes", s.gradientsAtPeakBytes());
            at.put("persistentGradientsBytes", s.persistentGradientsBytes());
            at.put("persistentBytes", s.persistentBytes());
            at.put("totalBytes", s.atPeakBytes());
            at.put("percent", round(pct(s.atPeakBytes(), total)));
            Measured.StageTime t = m.stages().get(s.name());
            e.put("measuredMillis", t == null ? 0 : round(t.millis()));
            e.put("measuredScratchBytes", t == null ? -1 : t.scratchBytes());
        }
        ObjectNode at = o.putObject("atPeak");
        at.put("step", b.peakStep());
        at.put("phase", b.peakPhase().name());
        at.put("stagesBytes", b.stages().stream().mapToLong(StageBreakdown.Stage::atPeakBytes).sum());
        at.put("workspaceBytes", b.workspaceBytes());
        at.put("workspaceStage", b.workspaceStage());
        at.put("arenaGapBytes", b.arenaGapBytes());
        at.put("totalBytes", b.totalBytes());
        o.set("measured", measured(m));
        ObjectNode timeline = o.putObject("timeline");
        ArrayNode live = timeline.putArray("liveBytes");
        for (long v : b.liveBytes()) {
            live.add(v);
        }
        ArrayNode phases = timeline.putArray("phases");
        for (StageBreakdown.PhaseRun run : b.phases()) {
            phases.addObject().put("phase", run.phase().name()).put("from", run.from()).put("to", run.to());
        }
        return o;
    }

    private static ObjectNode measured(Measured m) {
        ObjectNode o = JSON.createObjectNode();
        o.put("backend", m.backend());
        o.put("threads", m.threads());
        o.put("arenaBytes", m.arenaBytes());
        o.put("variableBytes", m.variableBytes());
        o.put("workspaceBytes", m.workspaceBytes());
        o.put("workspaceOp", m.workspaceOp());
        o.put("workspaceStage", m.workspaceStage());
        o.put("highWaterBytes", m.highWaterBytes());
        o.put("highWaterSource", m.highWaterSource());
        o.put("runPeakBytes", m.runPeakBytes());
        if (m.rss() == null) {
            o.putNull("rss");
        } else {
            ProcessMemory.Window w = m.rss();
            o.putObject("rss").put("reset", w.reset()).put("beforeBytes", w.beforeBytes()).put("peakBytes", w.peakBytes())
                    .put("afterBytes", w.afterBytes()).put("growthBytes", w.growthBytes());
        }
        o.put("meanStepMillis", round(m.meanStepMillis()));
        if (m.deviceAfter() == null) {
            o.putNull("device");
        } else {
            o.putObject("device").put("totalBytes", m.deviceAfter().totalBytes()).put("freeBeforeBytes", m.deviceBefore().freeBytes())
                    .put("freeAfterBytes", m.deviceAfter().freeBytes()).put("runBytes", m.deviceRunBytes());
        }
        ArrayNode deviceReport = o.putArray("deviceReport");
        m.deviceReport().forEach(deviceReport::add);
        ArrayNode steps = o.putArray("steps");
        for (Measured.Step s : m.steps()) {
            steps.addObject().put("step", s.step()).put("stepMillis", round(s.stepMillis())).put("loss", s.loss())
                    .put("scratchBytes", s.scratchBytes()).put("highWaterBytes", s.highWaterBytes());
        }
        return o;
    }

    public static String jsonText(Profile p) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json(p));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** How a phase reads in a sentence: a RECOMPUTE op runs during the backward pass. */
    static String phaseName(org.leanseg.graph.Phase phase) {
        return switch (phase) {
            case FORWARD -> "forward";
            case BACKWARD -> "backward";
            case RECOMPUTE -> "backward, a recomputed op";
            case OPTIMIZER -> "optimizer";
        };
    }

    static double mib(long bytes) {
        return bytes / MIB;
    }

    static double pct(double part, double whole) {
        return whole <= 0 ? 0 : 100.0 * part / whole;
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }
}
