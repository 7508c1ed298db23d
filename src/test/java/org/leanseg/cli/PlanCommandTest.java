package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

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

    @Test
    void tableNamesStagesAndTotals() {
        String out = run("plan", "--batch", "1", "--size", "64x64", "--width", "0.25", "--classes", "3");
        assertTrue(out.contains("backbone.features.17") && out.contains("aspp") && out.contains("decoder"), out);
        assertTrue(out.contains("lower bound") && out.contains("saved for backward"), out);
    }
}
