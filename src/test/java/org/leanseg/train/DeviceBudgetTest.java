package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.DeviceMemory;
import org.leanseg.memory.ByteSize;

/**
 * {@link StepMemory#deviceBudget}: train.memory_budget on a device that reports its memory is lowered to what the
 * device has free less the allowance for allocations outside the plan, with one line saying so (issue 15 item 8: a
 * budget equal to the card's memory must not run out of memory); kept where it fits, and where no device memory is
 * reported (cpu, reference).
 */
class DeviceBudgetTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void aBudgetOfTheWholeCardIsLoweredToWhatItHasFree() {
        List<String> lines = new ArrayList<>();
        // an 80 GiB card with 79.4 GiB free once the CUDA context is made
        DeviceMemory card = new DeviceMemory((long) (79.4 * GIB), 80 * GIB);
        ByteSize got = StepMemory.deviceBudget(new ByteSize(80 * GIB), card, 64 * MIB, lines::add);
        assertEquals(card.freeBytes() - 64 * MIB, got.bytes());
        assertEquals(1, lines.size());
        assertTrue(lines.get(0).startsWith("train.memory_budget 80") && lines.get(0).contains("planning within"), lines.get(0));
    }

    @Test
    void aBudgetThatFitsIsKept() {
        List<String> lines = new ArrayList<>();
        ByteSize budget = new ByteSize(6 * GIB);
        assertSame(budget, StepMemory.deviceBudget(budget, new DeviceMemory(10 * GIB, 12 * GIB), 64 * MIB, lines::add));
        assertSame(budget, StepMemory.deviceBudget(budget, null, 64 * MIB, lines::add), "no device memory reported");
        assertNull(StepMemory.deviceBudget(null, new DeviceMemory(GIB, GIB), 64 * MIB, lines::add));
        assertEquals(List.of(), lines);
    }

    @Test
    void nothingFreeIsOneClearError() {
        org.leanseg.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(org.leanseg.config.ConfigException.class,
                () -> StepMemory.deviceBudget(new ByteSize(GIB), new DeviceMemory(32 * MIB, GIB), 64 * MIB, s -> { }));
        assertTrue(e.getMessage().startsWith("train.memory_budget") && e.getMessage().contains("free the GPU"), e.getMessage());
    }
}
