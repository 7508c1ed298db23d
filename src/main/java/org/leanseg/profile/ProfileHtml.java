package org.leanseg.profile;

import java.util.Base64;
import java.util.Locale;
import org.knowm.xchart.internal.chartpart.Chart;
import org.leanseg.memory.MemoryReport;

/**
 * {@code report.html}: one self-contained page (inline CSS, charts as base64 PNG, no scripts and no
 * network) with the headline figures, the charts of {@link ProfileCharts} and the tables of the
 * terminal summary.
 *
 * <pre>{@code
 * Files.writeString(dir.resolve("report.html"), ProfileHtml.page(profile));
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProfileCommandTest}; look at it with a headless browser
 * ({@code chromium --headless --screenshot=x.png file://.../report.html}).
 */
public final class ProfileHtml {
    private static final String CSS = """
            body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1140px;color:#222;padding:0 16px}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
            .sub{color:#555;margin-bottom:16px}
            .cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
            .card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
            img{width:100%;max-width:1100px;display:block;margin:8px 0 4px}
            table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0}
            th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
            th{background:#f5f5f5;font-weight:600;white-space:normal;vertical-align:bottom;max-width:110px}td:first-child,th:first-child{text-align:left}
            tr.sum td{font-weight:600;border-top:1px solid #999}
            .note{color:#555;font-size:12.5px;max-width:1000px}
            """;

    private ProfileHtml() {
    }

    public static String page(Profile p) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        MemoryReport r = p.plan().report();
        Measured m = p.measured();
        StringBuilder h = new StringBuilder(64 << 10);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>LeanSeg profile: ")
                .append(esc(p.plan().model().name())).append("</title><style>").append(CSS).append("</style></head><body>\n");
        h.append("<h1>LeanSeg training-step memory profile</h1>\n<div class=\"sub\">").append(esc(ProfileReport.title(p)))
                .append("</div>\n<div class=\"cards\">");
        card(h, mib(r.plannedPeakBytes()) + " MiB", "planned peak");
        card(h, (m.highWaterBytes() >= 0 ? mib(m.highWaterBytes()) : mib(m.runPeakBytes())) + " MiB", "measured high-water");
        if (m.rss() != null && m.rss().known()) {
            card(h, mib(m.rss().growthBytes()) + " MiB", "RSS growth (cross-check)");
        }
        if (m.deviceAfter() != null) {
            card(h, mib(m.deviceRunBytes()) + " MiB", "device memory taken (cudaMemGetInfo, of " + mib(m.deviceAfter().totalBytes()) + " MiB)");
        }
        card(h, mib(r.activationPeakBytes()) + " MiB", "activation arena");
        card(h, mib(r.lowerBoundBytes()) + " MiB", "lower bound (arena " + String.format(Locale.ROOT, "%.3f",
                r.lowerBoundBytes() == 0 ? 1.0 : (double) r.activationPeakBytes() / r.lowerBoundBytes()) + " x)");
        card(h, mib(r.savedForBackwardBytes()) + " MiB", "saved for backward");
        card(h, String.format(Locale.ROOT, "%.2f GFLOP", r.recomputeFlops() / 1e9), String.format(Locale.ROOT,
                "recomputed (+%.1f %% of the step), recompute %s", 100 * r.recomputeRatio(), p.plan().passes().recompute()));
        double ms = m.meanStepMillis();
        card(h, ms < 10_000 ? String.format(Locale.ROOT, "%.0f ms", ms) : String.format(Locale.ROOT, "%.1f s", ms / 1000), "step time" + (m.steps().size() > 1 ? " (after step 1)" : ""));
        h.append("</div>\n");

        h.append("<h2>Who holds the peak</h2>\n");
        chart(h, ProfileCharts.atPeak(p), "memory held at the planned peak per stage, stacked");
        atPeakTable(h, p);
        h.append("<p class=\"note\">At the schedule step with the most live arena bytes, each live buffer counts for the stage that wrote "
                + "its current value: <i>activations</i> (forward and recomputed values, step inputs) or <i>gradients</i> (backward values, "
                + "parameter gradients before their update). Weights, BN buffers and optimizer state are held all step. The workspace is one "
                + "region sized by the largest op scratch; the arena gap is what best-fit placement loses above the lower bound. "
                + "The rows add up to the planned peak.</p>\n");

        h.append("<h2>Over the schedule</h2>\n");
        chart(h, ProfileCharts.timeline(p), "live arena bytes at every op, coloured by phase");
        h.append("<p class=\"note\">Forward, backward (with recomputed ops), optimizer: live arena bytes after planning, per op. "
                + "Persistent tensors and workspace come on top.</p>\n");

        h.append("<h2>Per stage over the step</h2>\n");
        chart(h, ProfileCharts.perStage(p), "per-stage bytes saved for backward, arena peak, weights and gradients");
        stageTable(h, p);
        chart(h, ProfileCharts.stageTimes(p), "measured time per stage");

        h.append("<h2>Planned and measured</h2>\n");
        chart(h, ProfileCharts.plannedVsMeasured(p), "planned peak and measured high-water, stacked");
        measuredTable(h, p);
        if (!m.deviceReport().isEmpty()) {
            h.append("<h2>Device</h2>\n<pre>");
            m.deviceReport().forEach(line -> h.append(esc(line)).append('\n'));
            h.append("</pre>\n");
        }
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void atPeakTable(StringBuilder h, Profile p) {
        StageBreakdown b = p.breakdown();
        long total = p.plan().report().plannedPeakBytes();
        h.append("<table><tr><th>stage</th><th>% of peak</th><th>total MiB</th><th>activations</th><th>gradients</th>"
                + "<th>weights + buffers</th><th>optimizer state</th></tr>\n");
        for (StageBreakdown.Stage s : b.stages()) {
            row(h, s.name(), pct(s.atPeakBytes(), total), mib(s.atPeakBytes()), mib(s.activationsAtPeakBytes()),
                    mib(s.gradientsAtPeakBytes() + s.persistentGradientsBytes()), mib(s.weightsBytes() + s.buffersBytes()),
                    mib(s.optimizerStateBytes()));
        }
        row(h, "workspace (" + b.workspaceStage() + ")", pct(b.workspaceBytes(), total), mib(b.workspaceBytes()), "", "", "", "");
        row(h, "arena gap", pct(b.arenaGapBytes(), total), mib(b.arenaGapBytes()), "", "", "", "");
        h.append("<tr class=\"sum\">");
        cells(h, "total = planned peak", pct(b.totalBytes(), total), mib(b.totalBytes()), "", "", "", "");
        h.append("</tr></table>\n");
    }

    private static void stageTable(StringBuilder h, Profile p) {
        h.append("<table><tr><th>stage</th><th>saved for backward MiB</th><th>arena peak while it runs MiB</th>"
                + "<th>parameter gradients MiB</th><th>largest op scratch, planned MiB</th><th>largest op scratch, measured MiB</th>"
                + "<th>forward GFLOP</th><th>measured ms / step</th></tr>\n");
        for (StageBreakdown.Stage s : p.breakdown().stages()) {
            Measured.StageTime t = p.measured().stages().get(s.name());
            row(h, s.name(), mib(s.savedForBackwardBytes()), mib(s.peakBytes()), mib(s.parameterGradientBytes()), mib(s.workspaceBytes()),
                    t == null || t.scratchBytes() < 0 ? "-" : mib(t.scratchBytes()),
                    String.format(Locale.ROOT, "%.2f", s.forwardFlops() / 1e9),
                    String.format(Locale.ROOT, "%.1f", t == null ? 0 : t.millis()));
        }
        h.append("</table>\n");
    }

    private static void measuredTable(StringBuilder h, Profile p) {
        MemoryReport r = p.plan().report();
        Measured m = p.measured();
        h.append("<table><tr><th></th><th>planned MiB</th><th>measured MiB</th></tr>\n");
        row(h, "arena", mib(r.activationPeakBytes()), mib(m.arenaBytes()));
        row(h, "persistent / adopted variables", mib(r.persistentBytes()), mib(m.variableBytes()));
        row(h, "workspace / largest op scratch (" + esc(m.workspaceOp()) + ", " + esc(m.workspaceStage()) + ")",
                mib(r.workspaceBytes()), mib(m.workspaceBytes()));
        h.append("<tr class=\"sum\">");
        cells(h, "total", mib(r.plannedPeakBytes()), mib(m.highWaterBytes()));
        h.append("</tr></table>\n<table><tr><th>step</th><th>ms</th><th>loss</th><th>largest op scratch MiB</th><th>high-water MiB</th></tr>\n");
        for (Measured.Step s : m.steps()) {
            row(h, String.valueOf(s.step()), String.format(Locale.ROOT, "%.0f", s.stepMillis()), String.format(Locale.ROOT, "%.4f", s.loss()),
                    mib(s.scratchBytes()), mib(s.highWaterBytes()));
        }
        h.append("</table>\n<p class=\"note\">Planned: the memory plan's figures. Measured on the ").append(esc(m.backend()))
                .append(" backend: the arena and variables it allocated; the high-water is ").append(esc(m.highWaterSource()))
                .append(". Step 1 also loads classes and thread-local buffers; the figures are the last step's. The backend's own peak "
                        + "over the run: ")
                .append(mib(m.runPeakBytes())).append(" MiB.</p>\n");
        ProcessMemory.Window w = m.rss();
        if (w != null && w.known()) {
            h.append("<p class=\"note\">Cross-check, <b>RSS growth ").append(mib(w.growthBytes()))
                    .append(" MiB</b>: the process's resident memory over the allocation and the steps (VmHWM after minus VmRSS before, "
                            + "from /proc/self/status; ").append(w.reset() ? "VmHWM reset first" : "VmHWM not resettable here: whole-life peak")
                    .append("). It also counts library buffers, the JIT and Java heap growth, and no plan figure enters it.</p>\n");
        }
    }

    private static void chart(StringBuilder h, Chart<?, ?> c, String alt) {
        h.append("<img alt=\"").append(esc(alt)).append("\" src=\"data:image/png;base64,")
                .append(Base64.getEncoder().encodeToString(ProfileCharts.png(c))).append("\">\n");
    }

    private static void card(StringBuilder h, String value, String label) {
        h.append("<div class=\"card\"><b>").append(esc(value)).append("</b><span>").append(esc(label)).append("</span></div>");
    }

    private static void row(StringBuilder h, Object... cells) {
        h.append("<tr>");
        cells(h, cells);
        h.append("</tr>\n");
    }

    private static void cells(StringBuilder h, Object... cells) {
        for (Object c : cells) {
            h.append("<td>").append(esc(String.valueOf(c))).append("</td>");
        }
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "-" : String.format(Locale.ROOT, "%.2f", ProfileReport.mib(bytes));
    }

    private static String pct(long part, long whole) {
        return String.format(Locale.ROOT, "%.1f %%", ProfileReport.pct(part, whole));
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
