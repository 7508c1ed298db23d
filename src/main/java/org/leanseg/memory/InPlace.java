package org.leanseg.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Node;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;

/**
 * In-place placement: an op output shares its input's buffer when the op declares it may
 * ({@link org.leanseg.ops.Op#inPlaceInput}), the input is an activation of the same size, and the
 * input's last read is that op (so nothing reads the old contents afterwards). Chains collapse:
 * conv → BN (in place) → ReLU (in place) use one buffer. See Note [In-place BN backward] for why
 * in-place BN keeps its input's lifetime short. Checked by {@code PlannerTest}.
 */
final class InPlace {
    private InPlace() {
    }

    /** Each value that overwrites a buffer, mapped to the buffer's first value. */
    static Map<Value, Value> aliases(List<Node> schedule, List<Lifetime> lifetimes) {
        Map<Value, Lifetime> byValue = new IdentityHashMap<>();
        for (Lifetime lt : lifetimes) {
            byValue.put(lt.value(), lt);
        }
        Map<Value, Value> root = new IdentityHashMap<>();
        for (int step = 0; step < schedule.size(); step++) {
            Node n = schedule.get(step);
            Set<Value> taken = Collections.newSetFromMap(new IdentityHashMap<>());
            for (int i = 0; i < n.outputs().size(); i++) {
                int j = n.op().inPlaceInput(i);
                if (j < 0) {
                    continue;
                }
                Value in = n.input(j);
                Value out = n.output(i);
                Lifetime inLt = byValue.get(in);
                if (inLt == null || !byValue.containsKey(out) || in.role() != Role.ACTIVATION
                        || inLt.last() != step || in.bytes() != out.bytes() || !taken.add(in)) {
                    continue;
                }
                root.put(out, root.getOrDefault(in, in));
            }
        }
        return root;
    }

    /** One lifetime per buffer: a root value's, extended over the values that overwrite it. */
    static List<Lifetime> buffers(List<Lifetime> lifetimes, Map<Value, Value> aliases) {
        Map<Value, int[]> range = new IdentityHashMap<>();
        for (Lifetime lt : lifetimes) {
            Value r = aliases.getOrDefault(lt.value(), lt.value());
            int[] rr = range.computeIfAbsent(r, k -> new int[] {lt.first(), lt.last()});
            rr[0] = Math.min(rr[0], lt.first());
            rr[1] = Math.max(rr[1], lt.last());
        }
        List<Lifetime> out = new ArrayList<>();
        for (Lifetime lt : lifetimes) {
            if (!aliases.containsKey(lt.value())) {
                int[] rr = range.get(lt.value());
                out.add(new Lifetime(lt.value(), rr[0], rr[1], lt.bytes()));
            }
        }
        return out;
    }
}
