package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.ConfigException;

/**
 * Issue 12 items 2, 3, 7 and 8: a re-run never damages a run directory, a damaged newest
 * checkpoint is skipped with a warning, a stop request ends with a checkpoint, and the run's
 * files say what happened (timestamps, timings, memory; no records of iterations run twice).
 */
class RunDirectoryTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Trainer.Result train(Path dir, String name, Path resume, String... extra) throws IOException {
        return new Trainer(ResumeTest.small(dir, name, extra), ResumeTest.quiet(), false).run(resume, null, false);
    }

    @Test
    void aSecondRunIntoTheSameDirectoryIsRefusedAndOverwriteMovesTheOldOneAside(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=3");
        Path run = dir.resolve("a");
        byte[] best = Files.readAllBytes(run.resolve("best.safetensors"));
        String log = Files.readString(run.resolve("log.txt"));
        ConfigException refused = assertThrows(ConfigException.class, () -> train(dir, "a", null, "train.iters=3"));
        assertTrue(refused.getMessage().contains("already holds a run") && refused.getMessage().contains("--resume")
                && refused.getMessage().contains("--overwrite") && refused.getMessage().contains("name="), refused.getMessage());
        assertEquals(log, Files.readString(run.resolve("log.txt")), "log.txt untouched");
        assertTrue(java.util.Arrays.equals(best, Files.readAllBytes(run.resolve("best.safetensors"))), "best checkpoint untouched");

        new Trainer(ResumeTest.small(dir, "a", "train.iters=3"), ResumeTest.quiet(), false).overwrite(true).run(null, null, false);
        List<Path> aside;
        try (Stream<Path> s = Files.list(dir)) {
            aside = s.filter(p -> p.getFileName().toString().startsWith("a.old-")).toList();
        }
        assertEquals(1, aside.size(), "the old run moved aside");
        assertTrue(java.util.Arrays.equals(best, Files.readAllBytes(aside.get(0).resolve("best.safetensors"))), "its best checkpoint kept");
        String fresh = Files.readString(run.resolve("log.txt"));
        assertEquals(1, fresh.split("LeanSeg training a:", -1).length - 1, "a fresh log.txt, not appended to: " + fresh);
        assertTrue(fresh.contains("(--overwrite)"), fresh);
    }

    @Test
    void theInTerminalProgressViewShowsTheHeaderDeviceWarningsAndSavedLines(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=2", "train.warmup_iters=0", "train.checkpoint_interval=1");
        Path newest = dir.resolve("a").resolve("iter_000002.safetensors");
        Files.write(newest, java.util.Arrays.copyOf(Files.readAllBytes(newest), 100)); // truncated: a warning on resume
        java.io.ByteArrayOutputStream terminal = new java.io.ByteArrayOutputStream();
        java.io.PrintStream err = System.err;
        System.setErr(new java.io.PrintStream(new java.io.ByteArrayOutputStream())); // the bar itself
        try {
            new Trainer(ResumeTest.small(dir, "a", "train.iters=3", "train.warmup_iters=0", "train.checkpoint_interval=1"),
                    new java.io.PrintStream(terminal, true), true).run(dir.resolve("a"), null, false);
        } finally {
            System.setErr(err);
        }
        String shown = terminal.toString();
        for (String line : List.of("LeanSeg training a:", "device: ", "warning: ", "resumed from ", "saved checkpoint ",
                "evaluation at iteration 3", "done: 3 iterations")) {
            assertTrue(shown.contains(line), "'" + line + "' in the terminal view:\n" + shown);
        }
    }

    @Test
    void theLogOfARunThatSavedNothingIsMovedAsideNotAppendedTo(@TempDir Path dir) throws IOException {
        Path run = Files.createDirectories(dir.resolve("a"));
        Files.writeString(run.resolve("log.txt"), "an earlier attempt that stopped at a bad file\n");
        train(dir, "a", null, "train.iters=1", "train.warmup_iters=0");
        assertFalse(Files.readString(run.resolve("log.txt")).contains("an earlier attempt"));
        try (Stream<Path> s = Files.list(dir)) {
            Path aside = s.filter(p -> p.getFileName().toString().startsWith("a.old-")).findFirst().orElseThrow();
            assertEquals("an earlier attempt that stopped at a bad file\n", Files.readString(aside.resolve("log.txt")));
        }
    }

    @Test
    void pruningNeverDeletesTheCheckpointJustWritten(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=4", "train.checkpoint_interval=1", "train.keep_last=2");
        Path run = dir.resolve("a");
        assertEquals(List.of("iter_000003.safetensors", "iter_000004.safetensors"), names(run));
        // resumed from iteration 1 into the same run: each checkpoint it writes survives pruning
        Path one = run.resolve("iter_000001.safetensors");
        Files.copy(run.resolve("iter_000003.safetensors"), one); // stands in for the older file pruning removed
        rewriteIter(one);
        train(dir, "a", one, "train.iters=2", "train.checkpoint_interval=1", "train.keep_last=1");
        assertTrue(Files.isRegularFile(run.resolve("iter_000002.safetensors")), names(run).toString());
        assertEquals("iter_000002.safetensors", Files.readString(run.resolve("last_checkpoint")).trim());
    }

    /** Saves {@code file} again with its state at iteration 1 (as a run would have at its first checkpoint). */
    private static void rewriteIter(Path file) throws IOException {
        java.util.Map<String, org.leanseg.tensor.Tensor> t = org.leanseg.io.Safetensors.readAll(file);
        java.util.Map<String, String> meta;
        try (org.leanseg.io.SafetensorsFile f = org.leanseg.io.SafetensorsFile.open(file)) {
            meta = new java.util.LinkedHashMap<>(f.metadata());
        }
        Checkpoints.State s = JSON.readValue(meta.get("state"), Checkpoints.State.class);
        meta.put("state", JSON.writeValueAsString(new Checkpoints.State(1, s.epoch(), 2, s.seed(), s.bestMIoU(), s.bestIter(), s.stockBatchNorm())));
        meta.remove(org.leanseg.io.Safetensors.CHECKSUM_KEY);
        java.util.Map<String, org.leanseg.tensor.DType> stored = new java.util.HashMap<>();
        t.forEach((k, v) -> {
            if (k.endsWith("num_batches_tracked")) {
                stored.put(k, org.leanseg.tensor.DType.I64);
            }
        });
        org.leanseg.io.Safetensors.writeVerifiable(file, t, meta, stored);
    }

    private static List<String> names(Path run) throws IOException {
        try (Stream<Path> s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("iter_\\d+\\.safetensors")).sorted().toList();
        }
    }

    @Test
    void aTruncatedNewestCheckpointIsSkippedWithAWarningAndTheRunResumes(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=3", "train.checkpoint_interval=1");
        Path run = dir.resolve("a");
        Path newest = run.resolve("iter_000003.safetensors");
        byte[] bytes = Files.readAllBytes(newest);
        Files.write(newest, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        IOException named = assertThrows(IOException.class, () -> Checkpoints.verify(newest));
        assertTrue(named.getMessage().contains("iter_000003.safetensors") && named.getMessage().contains("truncated"), named.getMessage());

        List<String> warnings = new ArrayList<>();
        assertEquals(run.resolve("iter_000002.safetensors"), Checkpoints.latest(run, warnings::add));
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("iter_000003.safetensors") && warnings.get(0).contains("truncated"), warnings.get(0));

        // a flipped byte in the data is caught by the checksum saved with the file
        byte[] flipped = Files.readAllBytes(run.resolve("iter_000002.safetensors"));
        flipped[flipped.length - 5] ^= 0x10;
        Path corrupt = dir.resolve("corrupt.safetensors");
        Files.write(corrupt, flipped);
        IOException checksum = assertThrows(IOException.class, () -> Checkpoints.verify(corrupt));
        assertTrue(checksum.getMessage().contains("corrupt"), checksum.getMessage());

        Trainer.Result resumed = train(dir, "a", run, "train.iters=3", "train.checkpoint_interval=1");
        assertEquals(2, resumed.startIter(), "resumed from the newest checkpoint that verifies");
        String log = Files.readString(run.resolve("log.txt"));
        assertTrue(log.contains("warning: skipping checkpoint") && log.contains("iter_000003.safetensors"), log);
    }

    @Test
    void aStopRequestFinishesTheStepSavesACheckpointAndResumesExactly(@TempDir Path dir) throws IOException {
        Trainer.Result full = train(dir, "full", null, "train.iters=3");
        Trainer stopped = new Trainer(ResumeTest.small(dir, "a", "train.iters=3"), ResumeTest.quiet(), false);
        stopped.requestStop("SIGTERM");
        Trainer.Result first = stopped.run(null, null, false);
        assertEquals("SIGTERM", first.stoppedBy());
        assertEquals(1, first.losses().size(), "stopped after the step it was running");
        Path run = dir.resolve("a");
        assertEquals("iter_000001.safetensors", Files.readString(run.resolve("last_checkpoint")).trim());
        String log = Files.readString(run.resolve("log.txt"));
        assertTrue(log.contains("SIGTERM: finished iteration 1 and saved checkpoint"), log);
        assertTrue(log.strip().endsWith("continue with --resume; run directory " + run), "log.txt ends with the final line: " + log);

        Trainer.Result rest = train(dir, "a", run, "train.iters=3");
        assertEquals(Float.floatToIntBits(full.losses().get(1)), Float.floatToIntBits(rest.losses().get(0)));
        assertEquals(Float.floatToIntBits(full.losses().get(2)), Float.floatToIntBits(rest.losses().get(1)));
        assertTrue(Files.readString(run.resolve("log.txt")).strip().lines().reduce((a, b) -> b).orElseThrow().contains("done: 3 iterations"));
    }

    @Test
    void metricsCarryTimeAndMemoryAndAResumeDropsTheIterationsItRunsAgain(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=4", "train.checkpoint_interval=2");
        Path run = dir.resolve("a");
        List<JsonNode> records = records(run);
        JsonNode first = records.get(0);
        for (String key : List.of("time", "iter", "loss", "iter_s", "data_s", "planned_peak_mib", "heap_used_mib")) {
            assertTrue(first.has(key), key + " in " + first);
        }
        assertTrue(first.get("planned_peak_mib").asLong() > 0, first.toString());
        train(dir, "a", run.resolve("iter_000002.safetensors"), "train.iters=4", "train.checkpoint_interval=2");
        List<Integer> trainIters = records(run).stream().filter(r -> r.get("type").asText().equals("train"))
                .map(r -> r.get("iter").asInt()).toList();
        assertEquals(List.of(1, 2, 3, 4), trainIters, "each iteration logged once after the resume");
    }

    /** Item 8: the evaluation table, the final line and metrics.jsonl give the same mIoU, in percent in text, as a fraction in JSON. */
    @Test
    void theTableAndTheFinalLineGiveMIoUInOneUnit(@TempDir Path dir) throws IOException {
        train(dir, "a", null, "train.iters=2", "train.eval_interval=1");
        String log = Files.readString(dir.resolve("a").resolve("log.txt"));
        java.util.regex.Matcher table = java.util.regex.Pattern.compile("mIoU (\\d+\\.\\d\\d)  aAcc").matcher(log);
        String lastTable = null;
        while (table.find()) {
            lastTable = table.group(1);
        }
        java.util.regex.Matcher fin = java.util.regex.Pattern.compile("last mIoU (\\d+\\.\\d\\d)%").matcher(log);
        assertTrue(lastTable != null && fin.find(), log);
        assertEquals(lastTable, fin.group(1), "table and final line: " + log);
        double fraction = records(dir.resolve("a")).stream().filter(r -> r.get("type").asText().equals("val"))
                .reduce((a, b) -> b).orElseThrow().get("mIoU").asDouble();
        assertEquals(Double.parseDouble(lastTable), 100 * fraction, 0.01, "metrics.jsonl holds the fraction");
    }

    private static List<JsonNode> records(Path run) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }
}
