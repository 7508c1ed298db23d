package org.leanseg.memory;

import java.util.List;
import java.util.Map;
import org.leanseg.graph.Value;

/**
 * Where every planned value lives in the activation arena. Data only: printable, comparable and
 * testable without a device. {@code lifetimes} has one entry per buffer: a value together with the
 * values that overwrite it in place ({@code aliases} maps each such value to the buffer's first
 * value), live from the first write to the last read of any of them. {@code lowerBoundBytes} is the
 * most buffer bytes live at any one step; the gap to {@code arenaBytes} is what the placement loses
 * to fragmentation.
 */
public record MemoryPlan(Map<Value, Long> offsets, List<Lifetime> lifetimes, Map<Value, Value> aliases,
                         long arenaBytes, long lowerBoundBytes) {
    public long offset(Value v) {
        Long o = offsets.get(v);
        if (o == null) {
            throw new IllegalArgumentException("value " + v + " has no place in the plan");
        }
        return o;
    }

    /** Whether {@code v} was placed in the arena (inputs and activations that a scheduled op touches). */
    public boolean planned(Value v) {
        return offsets.containsKey(v);
    }

    @Override
    public String toString() {
        return String.format("MemoryPlan[%d values in %d buffers (%d in place), arena %.2f MiB, lower bound %.2f MiB]",
                offsets.size(), lifetimes.size(), aliases.size(), arenaBytes / 1048576.0, lowerBoundBytes / 1048576.0);
    }
}
