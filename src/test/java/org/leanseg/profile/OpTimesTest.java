package org.leanseg.profile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.TensorSpec;

/**
 * Note [Op timing by events]'s bookkeeping, checked without a GPU: per-op times go to their stage and
 * op name in schedule order, with the bytes each op moves (inputs read + outputs written) and its
 * FLOPs; the table is largest first per step, with the achieved bandwidth and FLOP rate, and the share
 * of the device's peak bandwidth where one is known. Run: {@code mvn -q test -Dtest=OpTimesTest}.
 */
class OpTimesTest {
    private static final Graph G = new Graph();
    private static final Value X = G.input("x", TensorSpec.f32(1, 4, 8, 8));                    // 1 KiB
    private static final Value W = G.input("w", TensorSpec.f32(4, 4, 3, 3));                    // 576 B
    private static final Node CONV = G.apply1(Conv2d.of(1, 1, 1, 1), X, W).producer();          // out 1 KiB
    private static final Node RELU = G.apply1(Activation.relu(), CONV.output(0)).producer();   // 1 KiB in, 1 KiB out

    @Test
    void timesGoToTheirStagesAndOpNamesInScheduleOrder() {
        Map<String, Long> stages = new LinkedHashMap<>();
        Map<String, long[]> ops = new LinkedHashMap<>();
        StepProfiler.addTimes(List.of("backbone", "backbone", "aspp", "backbone"), List.of(CONV, RELU, CONV, CONV),
                new long[] {5_000_000, 1_000_000, 2_000_000, 3_000_000}, stages, ops);
        assertEquals(Map.of("backbone", 9_000_000L, "aspp", 2_000_000L), stages);
        long convFlops = CONV.op().flops(List.of(X.spec(), W.spec()));
        assertEquals(2L * 4 * 4 * 9 * 64, convFlops, "2 x Cout x Cin x 9 taps x 64 pixels");
        assertArrayEquals(new long[] {10_000_000, 3, 3 * (1024 + 576 + 1024), 3 * convFlops}, ops.get("conv2d"));
        assertArrayEquals(new long[] {1_000_000, 1, 2048, 256}, ops.get("relu"));
        assertThrows(IllegalStateException.class, () -> StepProfiler.addTimes(List.of("a"), List.of(RELU), new long[2], stages, ops),
                "a time per op, no more, no less");
    }

    @Test
    void opTableIsLargestFirstPerStepWithRates() {
        Map<String, long[]> ops = new LinkedHashMap<>();
        ops.put("relu", new long[] {2_000_000, 40, 4_000_000_000L, 1_000_000});
        ops.put("conv2d", new long[] {16_000_000, 20, 1_600_000_000L, 32_000_000_000L});
        ops.put("sgd", new long[] {2_000_000, 2, 0, 0});
        List<String> lines = StepProfiler.opTimeLines(ops, 2, 2, true, 2e12);
        assertEquals(3, lines.size(), "header and the top 2");
        assertTrue(lines.get(0).contains("10.000 ms over 3 op names") && lines.get(0).contains("CUDA events")
                && lines.get(0).contains("peak bandwidth 2000 GB/s"), lines.get(0));
        // conv2d: 8 ms and 800 MB a step, 100 GB/s, 2000 GFLOP/s, 5% of 2 TB/s
        assertTrue(lines.get(1).contains("conv2d") && lines.get(1).contains("8.000 ms") && lines.get(1).contains("80.0%")
                && lines.get(1).contains("10 launches") && lines.get(1).contains("800.0 MB") && lines.get(1).contains("100.0 GB/s")
                && lines.get(1).contains("2000.0 GFLOP/s") && lines.get(1).contains("5.0% of peak"), lines.get(1));
        // relu: 1 ms a step, 2000 GB/s: 100% of the peak
        assertTrue(lines.get(2).contains("relu") && lines.get(2).contains("2000.0 GB/s") && lines.get(2).contains("100.0% of peak"), lines.get(2));
        List<String> host = StepProfiler.opTimeLines(ops, 2, 1, false, 0);
        assertTrue(host.get(0).startsWith("host time") && !host.get(0).contains("peak"), host.get(0));
        assertFalse(host.get(1).contains("of peak"), "no peak known on the host: " + host.get(1));
    }
}
