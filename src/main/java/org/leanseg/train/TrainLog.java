package org.leanseg.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;

/**
 * The run's records: human-readable {@code log.txt} (also echoed to the terminal when asked) and
 * machine-readable {@code metrics.jsonl}, one JSON object per logged step and per evaluation.
 * Both are appended to, so a resumed run continues them (the trainer first drops the metrics of
 * iterations it runs again, RunDirectory#dropMetricsAfter); each line is flushed as written.
 */
public final class TrainLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    private final BufferedWriter log;
    private final BufferedWriter metrics;
    private final PrintStream echo;
    private volatile java.util.function.Consumer<String> echoTo;

    public TrainLog(Path dir, PrintStream echo) throws IOException {
        Files.createDirectories(dir);
        this.log = open(dir.resolve("log.txt"));
        this.metrics = open(dir.resolve("metrics.jsonl"));
        this.echo = echo;
    }

    private static BufferedWriter open(Path p) throws IOException {
        return Files.newBufferedWriter(p, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** A line for log.txt (and the terminal when echo is set). */
    public void info(String message) {
        String line = TIME.format(LocalDateTime.now()) + " " + message;
        try {
            log.write(line);
            log.newLine();
            log.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        java.util.function.Consumer<String> to = echoTo;
        if (to != null) {
            to.accept(message);
        } else if (echo != null) {
            echo.println(message);
        }
    }

    /**
     * Sends the terminal echo to {@code to} instead of the stream given at construction (the
     * progress view, which prints lines above its bar); null restores the stream.
     */
    public void echoTo(java.util.function.Consumer<String> to) {
        this.echoTo = to;
    }

    /** One metrics record. */
    public void metrics(Map<String, Object> record) {
        try {
            metrics.write(JSON.writeValueAsString(record));
            metrics.newLine();
            metrics.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        log.close();
        metrics.close();
    }
}
