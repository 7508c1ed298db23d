package org.leanseg.memory;

import java.util.List;
import java.util.Map;
import org.leanseg.graph.Value;

/**
 * Where every planned value lives in the activation arena. Data only: printable, comparable and
 * testable without a device. {@code lowerBoundBytes} is the most bytes live at any one step; the
 * gap to {@code arenaBytes} is what the placement loses to fragmentation.
 */
public record MemoryPlan(Map<Value, Long> offsets, List<Lifetime> lifetimes, long arenaBytes, long lowerBoundBytes) {
    public long offset(Value v) {
        Long o = offsets.get(v);
        if (o == null) {
            throw new IllegalArgumentException("value " + v + " has no place in the plan");
        }
        return o;
    }

    @Override
    public String toString() {
        return String.format("MemoryPlan[%d values, arena %.2f MiB, lower bound %.2f MiB]",
                offsets.size(), arenaBytes / 1048576.0, lowerBoundBytes / 1048576.0);
    }
}
