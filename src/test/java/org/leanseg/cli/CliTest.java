package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** The command line as a user meets it. */
class CliTest {
    /** A command's exit code and what it printed (DistillCommandTest shares it). */
    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out));
            System.setErr(new PrintStream(err));
            int code = Main.run(args);
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void helpListsCommands() {
        Run r = run("--help");
        assertEquals(0, r.code());
        for (String c : new String[] {"version", "ops", "summary", "train", "eval", "predict", "benchmark"}) {
            assertTrue(r.out().contains(c), r.out());
        }
    }

    @Test
    void opsTableListsEveryOp() {
        Run r = run("ops");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("conv2d") && r.out().contains("batch_norm") && r.out().contains("sgd"), r.out());
        String sgd = r.out().lines().filter(l -> l.startsWith("sgd ")).findFirst().orElseThrow();
        assertTrue(sgd.matches("sgd +optimizer +yes +yes +yes +yes +host +widened *"), "sgd's parameters are float32: " + sgd);
        String conv = r.out().lines().filter(l -> l.startsWith("conv2d ")).findFirst().orElseThrow();
        assertTrue(conv.matches("conv2d +conv +yes +yes +yes +yes +yes +untested *"), conv);
    }

    @Test
    void summaryReportsTheSpecParameterCount() {
        Run r = run("summary", "--size", "64x64");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("5,816,053"), r.out());
    }

    @Test
    void badConfigValueNamesKeyAndAllowedValues() {
        Run r = run("train", "--set", "train.schedule=linear");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("train.schedule") && r.err().contains("poly") && r.err().contains("cosine"), r.err());
    }

    @Test
    void printConfigShowsDefaults() {
        Run r = run("train", "--print-config");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("iters") && r.out().contains("synthetic"), r.out());
    }
}
