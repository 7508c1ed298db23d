package org.leanseg.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.leanseg.config.ConfigException;
import org.leanseg.io.AtomicFiles;

/**
 * A run directory ({@code work_dirs/<name>/}) as the trainer finds it. A new run never writes into
 * a directory that holds another run's files: it refuses with the three ways on ({@link #claim}),
 * or, with {@code --overwrite}, moves the old run aside whole, so its best checkpoint is never lost.
 * A resumed run drops the metrics records of the iterations it runs again ({@link #dropMetricsAfter}).
 *
 * <p>Check: {@code mvn -B -q test -Dtest=RunDirectoryTest}.
 */
final class RunDirectory {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private RunDirectory() {
    }

    /** The files of {@code dir} that a training run writes (empty for a new or empty directory). */
    static List<String> runFiles(Path dir) throws IOException {
        List<String> found = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return found;
        }
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString())
                    .filter(n -> n.equals("log.txt") || n.equals("metrics.jsonl") || n.equals("last_checkpoint") || n.endsWith(".safetensors"))
                    .sorted().forEach(found::add);
        }
        return found;
    }

    /**
     * Makes {@code dir} ready for a new (not resumed) run: fine when it holds no run. A run that
     * saved checkpoints is refused with a one-line error naming the three ways on, unless
     * {@code overwrite}; then, as for the log and metrics of a run that saved none (e.g. one that
     * stopped at a bad file), the old files are renamed to {@code <dir>.old-<time>}, whose path is
     * returned. Nothing is appended to, overwritten or deleted.
     */
    static Path claim(Path dir, boolean overwrite) throws IOException {
        List<String> files = runFiles(dir);
        if (files.isEmpty()) {
            return null;
        }
        boolean checkpoints = files.stream().anyMatch(n -> n.endsWith(".safetensors") || n.equals("last_checkpoint"));
        if (checkpoints && !overwrite) {
            throw new ConfigException(dir + " already holds a run (" + String.join(", ", files.subList(0, Math.min(4, files.size())))
                    + (files.size() > 4 ? ", ..." : "") + "); continue it with --resume, start another with --set name=<new name>, "
                    + "or move it aside and start afresh with --overwrite");
        }
        Path aside = dir.resolveSibling(dir.getFileName() + ".old-" + STAMP.format(LocalDateTime.now()));
        for (int i = 2; Files.exists(aside); i++) {
            aside = dir.resolveSibling(dir.getFileName() + ".old-" + STAMP.format(LocalDateTime.now()) + "-" + i);
        }
        Files.move(dir, aside);
        return aside;
    }

    /**
     * Rewrites {@code metrics.jsonl} without the records of iterations after {@code iter}: a run
     * resumed there runs them again and logs them anew. Returns how many were dropped.
     */
    static int dropMetricsAfter(Path dir, int iter) throws IOException {
        Path metrics = dir.resolve("metrics.jsonl");
        if (!Files.isRegularFile(metrics)) {
            return 0;
        }
        List<String> kept = new ArrayList<>();
        int dropped = 0;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode rec;
            try {
                rec = JSON.readTree(line);
            } catch (IOException torn) {
                dropped++; // a line cut short by a kill
                continue;
            }
            if (rec.path("iter").asInt(0) > iter) {
                dropped++;
            } else {
                kept.add(line);
            }
        }
        if (dropped > 0) {
            StringBuilder sb = new StringBuilder();
            kept.forEach(l -> sb.append(l).append('\n'));
            AtomicFiles.write(metrics, sb.toString().getBytes(StandardCharsets.UTF_8));
        }
        return dropped;
    }
}
