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
        sharedMemoryOnlyInPlace(g, plan);
    }

    /** Values that share bytes while both live are one buffer, handed over at an op declared in place. */
    static void sharedMemoryOnlyInPlace(Graph g, MemoryPlan plan) {
        List<Lifetime> values = Planner.lifetimes(g.nodes(), planned(g), g.outputs());
        for (Lifetime a : values) {
            for (Lifetime b : values) {
                if (a == b || !a.overlaps(b) || a.first() > b.first()) {
                    continue;
                }
                long oa = plan.offset(a.value());
                long ob = plan.offset(b.value());
                if (oa + a.bytes() <= ob || ob + b.bytes() <= oa) {
                    continue;
                }
                // a is overwritten by b: b's producer declares it, and that is a's last read
                var producer = b.value().producer();
                assertTrue(producer != null && a.last() == b.first() && producer.index() == b.first(), a + " / " + b);
                int j = producer.op().inPlaceInput(b.value().outputIndex());
                assertTrue(j >= 0 && producer.input(j) == a.value(), a + " overwritten by " + b + " without an in-place declaration");
            }
        }
    }

    @Test
    void inPlaceChainUsesOneBufferAndRespectsLaterReads() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(1024));
        Value a = g.apply1(new Add(), x, x);           // x is an input: never overwritten
        Value b = g.apply1(Activation.relu(), a);      // a dies here: in place
        Value c = g.apply1(Activation.relu6(), b);     // b is read again below: not in place
        Value d = g.apply1(new Add(), b, c);           // b dies here: in place
        g.markOutput(d);
        MemoryPlan plan = Planner.plan(g.nodes(), planned(g), g.outputs());
        assertEquals(plan.offset(a), plan.offset(b));
        assertEquals(plan.offset(b), plan.offset(d));
        assertTrue(plan.offset(c) != plan.offset(b));
        assertTrue(plan.offset(a) != plan.offset(x));
        assertEquals(2 * 4096, plan.arenaBytes(), "the a/b/d buffer, and c in the input's place once x is dead");
        MemoryPlan off = Planner.plan(g.nodes(), planned(g), g.outputs(), false);
        assertTrue(off.aliases().isEmpty());
        sharedMemoryOnlyInPlace(g, plan);
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
        // in place, a chain after the input needs one buffer, whatever its length
        assertEquals(2 * 4096, plan.lowerBoundBytes());
        assertEquals(plan.lowerBoundBytes(), plan.arenaBytes());
    }
}
