package org.leanseg.profile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The bookkeeping of per-op times (Note [Op timing by events] in StepProfiler): on cuda, one device time per
 * op arrives after the step, in schedule order, and is summed into its stage and its op name; the op table
 * lists op names by time. CPU only (the events themselves: CudaProfileTest).
 */
class OpTimesTest {
    @Test
    void timesGoToTheirStagesAndOpNamesInScheduleOrder() {
        Map<String, Long> stages = new LinkedHashMap<>();
        Map<String, long[]> ops = new LinkedHashMap<>();
        StepProfiler.addTimes(List.of("backbone", "backbone", "aspp", "backbone"), List.of("conv2d", "batch_norm", "conv2d", "conv2d"),
                new long[] {5_000_000, 1_000_000, 2_000_000, 3_000_000}, stages, ops);
        assertEquals(Map.of("backbone", 9_000_000L, "aspp", 2_000_000L), stages);
        assertArrayEquals(new long[] {10_000_000, 3}, ops.get("conv2d"));
        assertArrayEquals(new long[] {1_000_000, 1}, ops.get("batch_norm"));
        assertThrows(IllegalStateException.class, () -> StepProfiler.addTimes(List.of("a"), List.of("x"), new long[2], stages, ops),
                "a time per op, no more, no less");
    }

    @Test
    void opTableIsLargestFirstPerStep() {
        Map<String, long[]> ops = new LinkedHashMap<>();
        ops.put("relu", new long[] {2_000_000, 40});
        ops.put("conv2d", new long[] {16_000_000, 20});
        ops.put("sgd", new long[] {2_000_000, 2});
        List<String> lines = StepProfiler.opTimeLines(ops, 2, 2);
        assertEquals(3, lines.size(), "header and the top 2");
        assertTrue(lines.get(0).contains("10.000 ms over 3 op names"), lines.get(0));
        assertTrue(lines.get(1).contains("conv2d") && lines.get(1).contains("8.000 ms") && lines.get(1).contains("80.0%")
                && lines.get(1).contains("10 launches"), lines.get(1));
        assertTrue(lines.get(2).contains("relu"), lines.get(2));
    }
}
