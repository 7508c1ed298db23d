package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;

/**
 * {@code leanseg bench-step --json} on a small model (width 0.25, 3 classes, batch 2 at 32x32, one
 * warm-up and two timed steps): stdout is exactly one JSON document with the fields the PyTorch
 * comparison reads, the same document is written to {@code --out}, the planned peak is the
 * trainer's plan, and the times and losses are consistent. No timing is checked beyond being finite.
 */
class BenchStepCommandTest {
    @TempDir
    static Path dir;
    static JsonNode json;
    static JsonNode written;

    @BeforeAll
    static void benchOnce() throws Exception {
        PrintStream before = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(0, Main.run("bench-step", "--batch", "2", "--size", "32x32", "--width", "0.25", "--classes", "3",
                    "--device", "cpu", "--warmup", "1", "--steps", "2", "--json", "--out", dir.resolve("r.json").toString()));
        } finally {
            System.setOut(before);
        }
        ObjectMapper m = new ObjectMapper();
        json = m.readTree(buf.toString(StandardCharsets.UTF_8));
        written = m.readTree(dir.resolve("r.json").toFile());
    }

    @Test
    void stdoutIsTheWrittenDocument() {
        assertEquals(written, json);
        assertEquals("leanseg", json.get("peer").asText());
        assertEquals("deeplabv3plus_mobilenetv2", json.get("model").asText());
        assertEquals("cpu", json.get("device").asText());
        assertEquals(2, json.get("batch").asInt());
        assertEquals(32, json.get("height").asInt());
        assertEquals(32, json.get("width").asInt());
        assertEquals(0.25, json.get("widthMultiplier").asDouble());
        assertEquals(3, json.get("classes").asInt());
    }

    @Test
    void phasesHaveOneTimePerTimedStepAndConsistentStatistics() {
        for (String phase : new String[] {"train", "eval"}) {
            JsonNode p = json.get(phase);
            JsonNode all = p.get("millis");
            assertEquals(2, all.size(), phase);
            double min = Double.MAX_VALUE;
            double max = 0;
            for (JsonNode t : all) {
                assertTrue(t.asDouble() > 0 && Double.isFinite(t.asDouble()), phase + " " + all);
                min = Math.min(min, t.asDouble());
                max = Math.max(max, t.asDouble());
            }
            assertEquals(min, p.get("minMillis").asDouble(), 0.0, phase);
            assertEquals((min + max) / 2, p.get("medianMillis").asDouble(), 1e-9, phase);
            assertTrue(p.get("measuredPeakBytes").asLong() > 0, phase);
            JsonNode rss = p.get("rss");
            for (String k : new String[] {"peakReset", "beforeBytes", "hwmAfterBytes", "afterBytes", "growthBytes"}) {
                assertTrue(rss.has(k), phase + " rss." + k);
            }
        }
        JsonNode losses = json.get("train").get("losses");
        assertEquals(3, losses.size(), "one loss per warm-up and timed step");
        losses.forEach(l -> assertTrue(Double.isFinite(l.asDouble()) && l.asDouble() > 0, losses.toString()));
    }

    /** The planned peak is the plan of the step the trainer runs on that backend, and the backend held its arena and variables. */
    @Test
    void plannedPeakIsTheTrainersPlan() {
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withClasses(3);
        StepPlan plan;
        String backend;
        try (Backend b = Backends.create("cpu").backend()) {
            plan = StepProfiler.trainerPlan(cfg, 2, 32, 32, b, RecomputePolicy.none());
            backend = b.name();
        }
        JsonNode t = json.get("train");
        assertEquals(backend, t.get("backend").asText());
        assertEquals(plan.report().plannedPeakBytes(), t.get("plannedPeakBytes").asLong());
        assertEquals(plan.report().activationPeakBytes(), t.get("arenaBytes").asLong());
        assertEquals(plan.report().persistentBytes(), t.get("variableBytes").asLong());
        assertTrue(t.get("measuredPeakBytes").asLong() >= t.get("arenaBytes").asLong() + t.get("variableBytes").asLong());
    }

    @Test
    void badArgumentsAreRefused() {
        assertEquals(2, Main.run("bench-step", "--steps", "0", "--size", "32x32"));
        assertEquals(2, Main.run("bench-step", "--device", "no-such-device", "--size", "32x32", "--width", "0.25"));
    }

    @Test
    void opTimesListEveryOpOfTheStepOnce() {
        Map<String, long[]> before = Map.of("conv2d", new long[] {1_000_000, 10});
        Map<String, long[]> after = new java.util.LinkedHashMap<>();
        after.put("relu", new long[] {4_000_000, 8});
        after.put("conv2d", new long[] {9_000_000, 14});
        String table = BenchStepCommand.opTable(before, after, 2);
        String[] lines = table.strip().split("\\R");
        assertEquals(3, lines.length, table);
        assertTrue(lines[0].contains("ops total 6.0 ms"), table);
        assertTrue(lines[1].strip().startsWith("conv2d") && lines[1].contains("4.00 ms") && lines[1].strip().endsWith(" 2"), table);
        assertTrue(lines[2].strip().startsWith("relu") && lines[2].contains("2.00 ms") && lines[2].strip().endsWith(" 4"), table);
    }
}
