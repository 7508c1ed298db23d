package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.tensor.TensorSpec;

/** The planner as data: random graphs, no device. */
class PlannerTest {
    static List<Value> planned(Graph g) {
        List<Value> vs = new ArrayList<>();
        for (Value v : g.values()) {
            if (v.role() == Role.INPUT || v.role() == Role.ACTIVATION) {
                vs.add(v);
            }
        }
        return vs;
    }

    @RepeatedTest(20)
    void noTwoLiveValuesOverlap() {
        Random rnd = new Random();
        Graph g = new Graph();
        List<Value> pool = new ArrayList<>();
        pool.add(g.input("x", TensorSpec.f32(1 + rnd.nextInt(100))));
        int n = 5 + rnd.nextInt(40);
        for (int i = 0; i < n; i++) {
            Value a = pool.get(rnd.nextInt(pool.size()));
            if (rnd.nextBoolean()) {
                pool.add(g.apply1(Activation.relu(), a));
            } else {
                List<Value> same = pool.stream().filter(v -> v.spec().equals(a.spec())).toList();
                pool.add(g.apply1(new Add(), a, same.get(rnd.nextInt(same.size()))));
            }
            if (rnd.nextInt(6) == 0) {
                pool.add(g.input("x" + i, TensorSpec.f32(1 + rnd.nextInt(100))));
            }
        }
        g.markOutput(pool.get(pool.size() - 1));
        MemoryPlan plan = Planner.plan(g.nodes(), planned(g), g.outputs());
        List<Lifetime> lts = plan.lifetimes();
        for (Lifetime a : lts) {
            long oa = plan.offset(a.value());
            assertTrue(oa % Planner.ALIGN == 0);
            assertTrue(oa + a.bytes() <= plan.arenaBytes());
            for (Lifetime b : lts) {
                if (a == b || !a.overlaps(b)) {
                    continue;
                }
                long ob = plan.offset(b.value());
                boolean disjoint = oa + a.bytes() <= ob || ob + b.bytes() <= oa;
                assertTrue(disjoint, a + " and " + b + " are live together and overlap in the arena");
            }
            // the lifetime covers every use
            for (var user : a.value().users()) {
                assertTrue(user.index() >= a.first() && user.index() <= a.last(), "use outside lifetime of " + a);
            }
        }
        assertTrue(plan.arenaBytes() >= plan.lowerBoundBytes());
    }

    @Test
    void chainReusesMemory() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(1024));
        for (int i = 0; i < 10; i++) {
            x = g.apply1(Activation.relu(), x);
        }
        g.markOutput(x);
        MemoryPlan plan = Planner.plan(g.nodes(), planned(g), g.outputs());
        // a chain needs two buffers at a time, whatever its length
        assertEquals(2 * 4096, plan.lowerBoundBytes());
        assertEquals(plan.lowerBoundBytes(), plan.arenaBytes());
    }
}
