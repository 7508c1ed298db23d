package org.leanseg.memory;

import org.leanseg.graph.Value;

/** A value's live range in schedule steps: written at {@code first}, last read at {@code last} (inclusive). */
public record Lifetime(Value value, int first, int last, long bytes) {
    public boolean overlaps(Lifetime o) {
        return first <= o.last && o.first <= last;
    }
}
