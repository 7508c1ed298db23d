package org.leanseg.train;

import java.io.PrintStream;
import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A terminal progress bar (step, loss, lr, images/s, ETA) when the output is a terminal; nothing
 * otherwise (the log lines carry the same figures).
 */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;
    private final PrintStream out;

    Progress(boolean interactive, PrintStream out, int total, int start) {
        this.out = out;
        this.bar = interactive ? new ProgressBarBuilder().setTaskName("train").setInitialMax(total)
                .startsFrom(start, Duration.ZERO).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500)
                .continuousUpdate().setMaxRenderedLength(120).build() : null;
    }

    void step(int done, float loss, float lr, double imagesPerSecond) {
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(String.format("loss %.4f lr %.5f %.1f img/s", loss, lr, imagesPerSecond));
        }
    }

    /** Prints a block of text without breaking the bar. */
    void println(String text) {
        if (bar != null) {
            out.print("\r" + " ".repeat(120) + "\r");
            out.println(text);
            bar.refresh();
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
