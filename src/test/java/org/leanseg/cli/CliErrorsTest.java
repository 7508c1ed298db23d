package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 4: every subcommand given bad arguments, files or values fails the same way:
 * exit code 2 and one line {@code leanseg <command>: ...} that names the input, never a stack trace.
 */
class CliErrorsTest {
    @TempDir
    static Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out));
            System.setErr(new PrintStream(err));
            return new Run(Main.run(args), out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** Runs {@code args}; asserts rc 2 and one error line for the command that names {@code mention}. */
    private static void fails(String mention, String... args) {
        Run r = run(args);
        String what = String.join(" ", args) + " -> rc " + r.code() + ", stderr: " + r.err();
        assertEquals(2, r.code(), what);
        // "INFO: Instrumented ..." lines come from the fuzzer's agent (ReaderFuzzTest in the same test JVM) as classes load
        List<String> lines = r.err().strip().lines().filter(l -> !l.startsWith("warning:") && !l.startsWith("INFO: Instrumented "))
                .toList();
        assertEquals(1, lines.size(), "one line: " + what);
        assertTrue(lines.get(0).startsWith("leanseg " + args[0] + ": "), what);
        assertTrue(lines.get(0).contains(mention), "names '" + mention + "': " + what);
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), "no stack trace: " + what);
    }

    @Test
    void modelFlags() {
        for (String cmd : List.of("summary", "plan", "profile")) {
            fails("--model foo", cmd, "--model", "foo");
        }
        fails("--width 0", "summary", "--width", "0");
        fails("--output-stride 7", "summary", "--output-stride", "7");
        fails("--output-stride 32", "summary", "--output-stride", "32");
        fails("--size", "summary", "--size", "big");
        fails("--aspp-channels 0", "plan", "--aspp-channels", "0");
        fails("--bogus", "summary", "--bogus");
        fails("--bogus", "ops", "--bogus");
        fails("--bogus", "version", "--bogus");
        fails("no-such.yaml", "summary", "--config", dir.resolve("no-such.yaml").toString());
    }

    @Test
    void files() throws IOException {
        Path text = Files.writeString(dir.resolve("readme.safetensors"), "plain text, not weights\n");
        Path missing = dir.resolve("missing.safetensors");
        fails("missing.safetensors", "train", "--load-from", missing.toString(), "--set", "work_dir=" + dir);
        fails("not a safetensors file", "train", "--resume", text.toString(), "--set", "work_dir=" + dir);
        fails("no checkpoint", "train", "--resume", Files.createDirectories(dir.resolve("empty-run")).toString());
        fails("missing.safetensors", "eval", "--checkpoint", missing.toString());
        fails("not a safetensors file", "eval", "--checkpoint", text.toString());
        fails("missing.safetensors", "benchmark", "--checkpoint", missing.toString());
        fails("missing.safetensors", "summary", "--checkpoint", missing.toString());
        fails("--checkpoint", "predict", "--input", dir.toString(), "--out", dir.resolve("o").toString());
        fails("labels.txt", "convert-labelme", "--input", dir.resolve("missing").toString(), "--classes",
                dir.resolve("labels.txt").toString(), "--output", dir.resolve("out").toString());
    }

    @Test
    void badValuesOfOtherCommands() {
        fails("train.iters", "train", "--set", "train.iters=zero");
        fails("--opacity", "predict", "--checkpoint", "x.safetensors", "--input", "x", "--out", "y", "--opacity", "2");
        fails("--images", "benchmark", "--checkpoint", "x.safetensors", "--images", "0");
    }

    @Test
    void benchStepExportAndQuantize() {
        fails("--steps", "bench-step", "--steps", "0", "--size", "32x32");
        fails("unknown device 'tpu'", "bench-step", "--device", "tpu", "--size", "32x32", "--width", "0.25");
        fails("/missing.safetensors", "export", "--checkpoint", "/missing.safetensors", "--out", "x.onnx");
        fails("/missing.safetensors", "quantize", "--checkpoint", "/missing.safetensors", "--calibration", "2", "--out", "x.onnx");
        fails("unknown device 'tpu'", "plan", "--device", "tpu", "--size", "32x32", "--width", "0.25");
    }

    @Test
    void everyCommandIsCovered() {
        List<String> covered = new ArrayList<>(List.of("summary", "plan", "profile", "ops", "version", "train", "eval", "benchmark",
                "predict", "convert-labelme", "help", "bench", "bench-step", "export", "quantize"));
        for (String sub : new picocli.CommandLine(new Main()).getSubcommands().keySet()) {
            assertTrue(covered.contains(sub), "no bad-argument case for '" + sub + "'");
        }
    }
}
