package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.CudaProbe;

/** {@code leanseg plan} end to end on a small model: the JSON keys of issue 4 and the table. */
class PlanCommandTest {
    private static String run(String... args) {
        PrintStream before = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(before);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonHasTheIssueKeys() throws Exception {
        JsonNode j = new ObjectMapper().readTree(run("plan", "--batch", "1", "--size", "64x64", "--width", "0.25",
                "--classes", "3", "--json"));
        for (String k : new String[] {"plannedPeakBytes", "activationPeakBytes", "lowerBoundBytes", "savedForBackwardBytes",
            "persistentBytes", "workspaceBytes", "forwardFlops", "recomputeFlops"}) {
            assertTrue(j.has(k) && j.get(k).isIntegralNumber(), k);
        }
        assertTrue(j.get("activationPeakBytes").asLong() >= j.get("lowerBoundBytes").asLong());
        JsonNode stages = j.get("stages");
        assertTrue(stages.size() > 5);
        for (JsonNode s : stages) {
            assertTrue(s.has("name") && s.has("savedForBackwardBytes") && s.has("peakBytes") && s.has("forwardFlops"));
        }
    }

    private static int exit(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(ERR, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static final ByteArrayOutputStream ERR = new ByteArrayOutputStream();

    private static final String[] TINY = {"plan", "--size", "64x64", "--width", "0.25", "--classes", "3"};

    /** {@code plan} on a tiny model with {@code more} options. */
    private static String[] args(String... more) {
        String[] all = java.util.Arrays.copyOf(TINY, TINY.length + more.length);
        System.arraycopy(more, 0, all, TINY.length, more.length);
        return all;
    }

    @Test
    void recomputeShowsInTheJsonFigures() throws Exception {
        ObjectMapper m = new ObjectMapper();
        JsonNode none = m.readTree(run(args("--batch", "2", "--json")));
        JsonNode stages = m.readTree(run(args("--batch", "2", "--json", "--recompute", "stages")));
        assertEquals("none", none.get("recompute").asText());
        assertEquals("stages", stages.get("recompute").asText());
        assertTrue(stages.get("savedForBackwardBytes").asLong() < none.get("savedForBackwardBytes").asLong());
        assertTrue(stages.get("recomputeFlops").asLong() > none.get("recomputeFlops").asLong());
        assertEquals(none.get("stepFlops").asLong(), stages.get("stepFlops").asLong(), "forward + backward + optimizer");
        assertEquals(stages.get("recomputeFlops").asDouble() / stages.get("stepFlops").asDouble(),
                stages.get("recomputeRatio").asDouble(), 1e-12);
        String table = run(args("--batch", "2", "--recompute", "sqrt", "--no-fuse"));
        assertTrue(table.contains("recompute sqrt") && table.contains("% of the step"), table);
    }

    @Test
    void memoryBudgetPrintsTheLargestBatchPerPolicy() throws Exception {
        // Unfused: at this tiny size the fused none step (depthwise replays, Note [BN through a depthwise
        // replay]) keeps so little that stages fits no larger batch; the search is the same either way.
        JsonNode two = new ObjectMapper().readTree(run(args("--json", "--recompute", "stages", "--no-fuse")));
        long budget = two.get("plannedPeakBytes").asLong() * 3 / 2;
        String table = run(args("--memory-budget", Long.toString(budget), "--recompute", "stages", "--no-fuse"));
        assertTrue(table.lines().anyMatch(l -> l.startsWith("stages ")) && table.contains("batch+1 needs"), table);
        JsonNode j = new ObjectMapper().readTree(run(args("--memory-budget", Long.toString(budget), "--json", "--no-fuse")));
        JsonNode rows = j.get("policies");
        assertEquals(4, rows.size());
        for (JsonNode r : rows) {
            assertTrue(r.get("batch").asInt() >= 1 && r.get("plannedPeakBytes").asLong() <= budget, r.toString());
            assertTrue(r.get("nextBatchPeakBytes").asLong() > budget, r.toString());
        }
        assertTrue(rows.get(1).get("batch").asInt() > rows.get(0).get("batch").asInt(), "stages fits more than none: " + rows);
        // auto chooses on the stages and the sqrt chain: it reaches the larger of their batches, for fewer FLOPs
        JsonNode reach = rows.get(2).get("batch").asInt() > rows.get(1).get("batch").asInt() ? rows.get(2) : rows.get(1);
        assertEquals(reach.get("batch").asInt(), rows.get(3).get("batch").asInt(), "auto reaches what stages or sqrt reaches: " + rows);
        assertTrue(rows.get(3).get("recomputeFlops").asLong() <= reach.get("recomputeFlops").asLong(), rows.toString());
    }

    @Test
    void badPoliciesAndBudgetsAreUsageErrors() {
        ERR.reset();
        assertEquals(2, exit(args("--recompute", "auto")));
        assertTrue(ERR.toString(StandardCharsets.UTF_8).contains("auto needs a budget"), ERR.toString(StandardCharsets.UTF_8));
        ERR.reset();
        assertEquals(2, exit(args("--recompute", "auto:1KiB")));
        assertTrue(ERR.toString(StandardCharsets.UTF_8).contains("even recomputing every stage"), ERR.toString(StandardCharsets.UTF_8));
        assertEquals(2, exit(args("--memory-budget", "6XB")));
        assertEquals(2, exit(args("--memory-budget", "6GiB", "--batch", "4")));
    }

    /** Without a usable GPU: auto plans on the CPU with the reason (nothing measured); cuda plans the cuda step, nothing allocated. */
    @Test
    void deviceOptionWithoutAGpu() throws Exception {
        Assumptions.assumeFalse(CudaProbe.result().usable(), "a GPU is usable here: CudaProfileTest measures plan --device there");
        String expected = org.leanseg.backend.cpu.CpuNative.available() ? "cpu" : "reference";
        String table = run(args("--device", "auto"));
        assertTrue(table.startsWith("device: " + expected + " (the step the " + expected + " backend runs; cuda unavailable: ")
                && !table.contains("measured on the device"), table);
        JsonNode j = new ObjectMapper().readTree(run(args("--device", "auto", "--json")));
        assertEquals(expected, j.get("deviceKey").asText(), j.toString());
        assertTrue(!j.has("device"), "planned only: no device memory measured");
        assertEquals("reference", new ObjectMapper().readTree(run(args("--device", "reference", "--json"))).get("deviceKey").asText());
        // planning for a card this machine does not have: the cuda step's plan, nothing allocated, and why
        String cuda = run(args("--device", "cuda"));
        assertTrue(cuda.startsWith("device: cuda (the step the cuda backend runs; planned only, nothing allocated: no usable GPU here, ")
                && cuda.contains("planned peak") && !cuda.contains("measured on the device"), cuda);
        JsonNode c = new ObjectMapper().readTree(run(args("--device", "cuda", "--json")));
        assertEquals("cuda", c.get("deviceKey").asText(), c.toString());
        assertTrue(!c.has("device"), "planned only: no device memory measured");
    }

    @Test
    void tableNamesStagesAndTotals() {
        String out = run("plan", "--batch", "1", "--size", "64x64", "--width", "0.25", "--classes", "3");
        assertTrue(out.contains("backbone.features.17") && out.contains("aspp") && out.contains("decoder"), out);
        assertTrue(out.contains("lower bound") && out.contains("saved for backward"), out);
    }
}
