package org.leanseg.profile;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.leanseg.graph.Phase;

/**
 * The charts of {@code report.html}, drawn with XChart and encoded as PNG (no SVG/PDF libraries
 * needed): what each stage holds at the peak (stacked bars), per-stage bytes over the step, time per
 * stage, planned against measured, and live arena bytes over the schedule with the phases coloured.
 *
 * <pre>{@code
 * byte[] png = ProfileCharts.png(ProfileCharts.timeline(profile));
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProfileCommandTest}.
 */
public final class ProfileCharts {
    /** Drawn at this multiple of the layout size so the PNGs stay sharp on high-density screens. */
    private static final int SCALE = 2;
    private static final int WIDTH = 1100;
    private static final Color ACTIVATIONS = new Color(0x4C78A8);
    private static final Color GRADIENTS = new Color(0xE45756);
    private static final Color WEIGHTS = new Color(0x54A24B);
    private static final Color OPTIMIZER = new Color(0xB279A2);
    private static final Color WORKSPACE = new Color(0xF58518);
    private static final Color GAP = new Color(0xBAB0AC);

    private ProfileCharts() {
    }

    /** Stacked bars: what each stage holds at the planned peak; workspace and arena gap as their own bars. */
    public static CategoryChart atPeak(Profile p) {
        StageBreakdown b = p.breakdown();
        List<String> names = new ArrayList<>();
        b.stages().forEach(s -> names.add(s.name()));
        names.add("workspace");
        names.add("arena gap");
        int n = names.size();
        double[] act = new double[n];
        double[] grad = new double[n];
        double[] weights = new double[n];
        double[] optim = new double[n];
        double[] other = new double[n];
        for (int i = 0; i < b.stages().size(); i++) {
            StageBreakdown.Stage s = b.stages().get(i);
            act[i] = ProfileReport.mib(s.activationsAtPeakBytes());
            grad[i] = ProfileReport.mib(s.gradientsAtPeakBytes() + s.persistentGradientsBytes());
            weights[i] = ProfileReport.mib(s.weightsBytes() + s.buffersBytes());
            optim[i] = ProfileReport.mib(s.optimizerStateBytes());
        }
        other[n - 2] = ProfileReport.mib(b.workspaceBytes());
        other[n - 1] = ProfileReport.mib(b.arenaGapBytes());
        CategoryChart c = categoryChart("Held at the planned peak, by stage (step " + b.peakStep() + ", "
                + ProfileReport.phaseName(b.peakPhase()) + ")", "MiB", 480);
        c.getStyler().setStacked(true);
        c.addSeries("activations", names, boxed(act)).setFillColor(ACTIVATIONS);
        c.addSeries("gradients", names, boxed(grad)).setFillColor(GRADIENTS);
        c.addSeries("weights + BN buffers", names, boxed(weights)).setFillColor(WEIGHTS);
        c.addSeries("optimizer state", names, boxed(optim)).setFillColor(OPTIMIZER);
        c.addSeries("workspace / arena gap", names, boxed(other)).setFillColor(GAP);
        return c;
    }

    /**
     * Grouped bars per stage over the whole step: saved for backward, weights, parameter gradients,
     * optimizer state (the arena peak while a stage runs is the timeline's business: it is close to
     * the step's peak for most stages and would flatten the other bars).
     */
    public static CategoryChart perStage(Profile p) {
        List<StageBreakdown.Stage> st = p.breakdown().stages();
        List<String> names = st.stream().map(StageBreakdown.Stage::name).toList();
        CategoryChart c = categoryChart("Per stage over the step", "MiB", 480);
        c.getStyler().setOverlapped(false);
        c.addSeries("saved for backward", names, boxed(st, s -> s.savedForBackwardBytes())).setFillColor(ACTIVATIONS);
        c.addSeries("weights", names, boxed(st, s -> s.weightsBytes())).setFillColor(WEIGHTS);
        c.addSeries("parameter gradients", names, boxed(st, s -> s.parameterGradientBytes())).setFillColor(GRADIENTS);
        c.addSeries("optimizer state", names, boxed(st, s -> s.optimizerStateBytes())).setFillColor(OPTIMIZER);
        return c;
    }

    /** Bars: measured milliseconds per step in each stage's ops. */
    public static CategoryChart stageTimes(Profile p) {
        List<String> names = new ArrayList<>();
        List<Double> ms = new ArrayList<>();
        for (StageBreakdown.Stage s : p.breakdown().stages()) {
            Measured.StageTime t = p.measured().stages().get(s.name());
            names.add(s.name());
            ms.add(t == null ? 0.0 : t.millis());
        }
        CategoryChart c = categoryChart("Measured time per step by stage (ops only)", "ms", 400);
        c.getStyler().setLegendVisible(false);
        c.addSeries("time", names, ms).setFillColor(ACTIVATIONS);
        return c;
    }

    /** Two stacked bars: the planned peak's parts next to what the backend allocated. */
    public static CategoryChart plannedVsMeasured(Profile p) {
        var r = p.plan().report();
        Measured m = p.measured();
        List<String> x = List.of("planned", "measured (last step)");
        CategoryChart c = categoryChart("Planned peak and measured high-water", "MiB", 380);
        c.getStyler().setStacked(true);
        c.getStyler().setXAxisLabelRotation(0);
        c.addSeries("arena (activations, gradients)", x, List.of(ProfileReport.mib(r.activationPeakBytes()),
                ProfileReport.mib(Math.max(0, m.arenaBytes())))).setFillColor(ACTIVATIONS);
        c.addSeries("persistent (weights, buffers, optimizer state)", x, List.of(ProfileReport.mib(r.persistentBytes()),
                ProfileReport.mib(Math.max(0, m.variableBytes())))).setFillColor(WEIGHTS);
        c.addSeries("workspace / largest op scratch", x, List.of(ProfileReport.mib(r.workspaceBytes()),
                ProfileReport.mib(Math.max(0, m.workspaceBytes())))).setFillColor(WORKSPACE);
        return c;
    }

    /** Live arena bytes at each schedule step, one colour per phase, with the arena size and lower bound. */
    public static XYChart timeline(Profile p) {
        StageBreakdown b = p.breakdown();
        long[] live = b.liveBytes();
        int steps = live.length - 1; // the last entry is after the step
        XYChart c = new XYChartBuilder().width(WIDTH).height(440).title("Live arena bytes over the schedule")
                .xAxisTitle("schedule step (op)").yAxisTitle("MiB").build();
        style(c.getStyler());
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        c.getStyler().setMarkerSize(0);
        c.getStyler().setXAxisDecimalPattern("#,##0");
        double[] x = new double[steps];
        for (int i = 0; i < steps; i++) {
            x[i] = i;
        }
        Phase[] phaseAt = new Phase[steps];
        for (StageBreakdown.PhaseRun run : b.phases()) {
            Arrays.fill(phaseAt, run.from(), run.to(), run.phase());
        }
        Color[] colours = {ACTIVATIONS, GRADIENTS, WORKSPACE, WEIGHTS};
        for (Phase ph : Phase.values()) {
            double[] y = new double[steps];
            boolean any = false;
            for (int i = 0; i < steps; i++) {
                // a run also takes the step before it, so short runs (one recomputed op) still draw a segment
                boolean in = phaseAt[i] == ph || (i + 1 < steps && phaseAt[i + 1] == ph);
                y[i] = in ? ProfileReport.mib(live[i]) : Double.NaN;
                any |= phaseAt[i] == ph;
            }
            if (any) {
                XYSeries s = c.addSeries(ph.name().toLowerCase(Locale.ROOT), x, y);
                s.setLineColor(colours[ph.ordinal()]);
                s.setLineWidth(1.6f);
                s.setMarker(SeriesMarkers.NONE);
            }
        }
        var r = p.plan().report();
        double arena = ProfileReport.mib(r.activationPeakBytes());
        double bound = ProfileReport.mib(r.lowerBoundBytes());
        // the level lines span [-0.5, steps - 0.5]: with only equally spaced x values XChart puts a tick
        // label at every few ops and they overlap; these two x values make it choose round ticks
        double[] span = {-0.5, steps - 0.5};
        XYSeries a = c.addSeries(String.format(Locale.ROOT, "arena %.1f MiB", arena), span, new double[] {arena, arena});
        a.setLineColor(Color.DARK_GRAY);
        a.setLineStyle(new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        a.setMarker(SeriesMarkers.NONE);
        if (bound < arena) {
            XYSeries lb = c.addSeries(String.format(Locale.ROOT, "lower bound %.1f MiB", bound), span, new double[] {bound, bound});
            lb.setLineColor(Color.GRAY);
            lb.setLineStyle(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {2f, 3f}, 0f));
            lb.setMarker(SeriesMarkers.NONE);
        }
        c.addAnnotation(new AnnotationLine(b.peakStep(), true, false));
        // the label sits right of the marker line, which would cross it otherwise
        c.addAnnotation(new AnnotationText("peak (step " + b.peakStep() + ")", b.peakStep() + 0.07 * steps, arena * 1.08, false));
        c.getStyler().setAnnotationLineColor(Color.BLACK);
        c.getStyler().setAnnotationTextFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        c.getStyler().setYAxisMax(arena * 1.15);
        return c;
    }

    /** The chart as PNG bytes, drawn at {@value #SCALE}x its size. */
    public static byte[] png(Chart<?, ?> chart) {
        BufferedImage img = new BufferedImage(chart.getWidth() * SCALE, chart.getHeight() * SCALE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.scale(SCALE, SCALE);
            chart.paint(g, chart.getWidth(), chart.getHeight());
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static CategoryChart categoryChart(String title, String yTitle, int height) {
        CategoryChart c = new CategoryChartBuilder().width(WIDTH).height(height).title(title).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setXAxisLabelRotation(45);
        c.getStyler().setAvailableSpaceFill(0.8);
        return c;
    }

    private static void style(Styler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderVisible(false);
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setLegendBorderColor(new Color(0xDDDDDD));
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setChartTitleBoxVisible(false);
        if (s instanceof org.knowm.xchart.style.AxesChartStyler a) {
            a.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            a.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            a.setYAxisDecimalPattern("#,##0.##");
            a.setPlotGridVerticalLinesVisible(false);
        }
    }

    private static List<Double> boxed(double[] a) {
        List<Double> l = new ArrayList<>(a.length);
        for (double v : a) {
            l.add(v);
        }
        return l;
    }

    private static List<Double> boxed(List<StageBreakdown.Stage> st, java.util.function.ToLongFunction<StageBreakdown.Stage> f) {
        return st.stream().map(s -> ProfileReport.mib(f.applyAsLong(s))).toList();
    }
}
