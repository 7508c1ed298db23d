package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.IdentityHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.tensor.TensorSpec;

/**
 * The planner as data, no device: seeded random DAGs (random sizes, in-place declarations, dead
 * outputs) and small graphs with known answers.
 */
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

    /**
     * A test op with any number of inputs and outputs of given sizes, which may declare one output
     * as written over one input (of any size: the planner must check the sizes itself).
     */
    record AnyOp(List<Integer> outputFloats, int inPlaceOutput, int inPlaceInput) implements Op {
        @Override
        public String name() {
            return "any";
        }

        @Override
        public List<TensorSpec> infer(List<TensorSpec> inputs) {
            return outputFloats.stream().map(TensorSpec::f32).toList();
        }

        @Override
        public int inPlaceInput(int output) {
            return output == inPlaceOutput ? inPlaceInput : -1;
        }
    }

    /**
     * A random DAG: ops of 1-3 inputs (any earlier value) and 1-2 outputs of random sizes, half of
     * them declaring an output in place of an input (same size or not), inputs appearing midway,
     * outputs nobody reads, 1-3 graph outputs.
     */
    static Graph randomGraph(Random rnd) {
        Graph g = new Graph();
        List<Value> pool = new ArrayList<>();
        pool.add(g.input("x", TensorSpec.f32(1 + rnd.nextInt(3000))));
        int n = 5 + rnd.nextInt(60);
        for (int i = 0; i < n; i++) {
            if (rnd.nextInt(8) == 0) {
                pool.add(g.input("x" + i, TensorSpec.f32(1 + rnd.nextInt(3000))));
            }
            int arity = 1 + rnd.nextInt(3);
            Value[] in = new Value[arity];
            for (int j = 0; j < arity; j++) {
                // mostly recent values, sometimes old ones (long lifetimes)
                int k = rnd.nextInt(4) == 0 ? rnd.nextInt(pool.size()) : Math.max(0, pool.size() - 1 - rnd.nextInt(4));
                in[j] = pool.get(k);
            }
            List<Integer> outs = new ArrayList<>();
            for (int o = 1 + rnd.nextInt(2); o > 0; o--) {
                outs.add(rnd.nextInt(3) == 0 ? (int) in[0].spec().shape().numel() : 1 + rnd.nextInt(3000));
            }
            boolean inPlace = rnd.nextBoolean();
            pool.addAll(g.apply(new AnyOp(outs, inPlace ? rnd.nextInt(outs.size()) : -1, inPlace ? rnd.nextInt(arity) : -1), in));
        }
        for (int k = 1 + rnd.nextInt(3); k > 0; k--) {
            g.markOutput(pool.get(pool.size() - 1 - rnd.nextInt(Math.min(pool.size(), 5))));
        }
        return g;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40})
    void randomGraphsPlanSafely(long seed) {
        Graph g = randomGraph(new Random(seed));
        MemoryPlan plan = Planner.plan(g.nodes(), planned(g), g.outputs());
        buffersDisjointWhileLive(plan);
        lifetimesCoverEveryUse(g, plan);
        sharedMemoryOnlyInPlace(g, plan);
        aliasesOnlyWhereDeclared(g, plan);
        lowerBoundIsTheMostLiveBytes(g, plan);
        assertTrue(plan.arenaBytes() >= plan.lowerBoundBytes(), "seed " + seed);
        MemoryPlan off = Planner.plan(g.nodes(), planned(g), g.outputs(), false);
        assertTrue(off.aliases().isEmpty());
        buffersDisjointWhileLive(off);
        assertTrue(off.lowerBoundBytes() >= plan.lowerBoundBytes(), "in place never needs more");
    }

    /** Buffers live at the same step never share a byte; every buffer is aligned and inside the arena. */
    static void buffersDisjointWhileLive(MemoryPlan plan) {
        List<Lifetime> lts = plan.lifetimes();
        for (Lifetime a : lts) {
            long oa = plan.offset(a.value());
            assertEquals(0, oa % Planner.ALIGN);
            assertTrue(oa + a.bytes() <= plan.arenaBytes());
            for (Lifetime b : lts) {
                if (a == b || !a.overlaps(b)) {
                    continue;
                }
                long ob = plan.offset(b.value());
                boolean disjoint = oa + a.bytes() <= ob || ob + b.bytes() <= oa;
                assertTrue(disjoint, a + " and " + b + " are live together and overlap in the arena");
            }
        }
    }

    /** Each value's buffer is live from its producer's step through its last reader's; outputs to the end. */
    static void lifetimesCoverEveryUse(Graph g, MemoryPlan plan) {
        Map<Value, Lifetime> buffer = new IdentityHashMap<>();
        plan.lifetimes().forEach(lt -> buffer.put(lt.value(), lt));
        for (Value v : planned(g)) {
            Lifetime lt = buffer.get(plan.aliases().getOrDefault(v, v));
            assertTrue(lt != null, v + " has no buffer");
            assertEquals(lt.bytes(), v.bytes(), "an alias has its buffer's size");
            if (v.producer() != null) {
                assertTrue(lt.first() <= v.producer().index(), "buffer of " + v + " starts after its producer");
            }
            for (Node user : v.users()) {
                assertTrue(user.index() >= lt.first() && user.index() <= lt.last(), "use of " + v + " at " + user.index() + " outside " + lt);
            }
            if (g.outputs().contains(v)) {
                assertEquals(g.nodes().size(), lt.last(), "output " + v + " lives to the end");
            }
        }
    }

    /** Every alias is an output its op declares in place of an input of the same size that dies there. */
    static void aliasesOnlyWhereDeclared(Graph g, MemoryPlan plan) {
        plan.aliases().forEach((member, root) -> {
            Node producer = member.producer();
            int j = producer.op().inPlaceInput(member.outputIndex());
            assertTrue(j >= 0, member + " shares a buffer but its op declares no in-place output");
            Value over = producer.input(j);
            assertEquals(root, plan.aliases().getOrDefault(over, over), member + " is not in the buffer of the input it overwrites");
            assertEquals(Role.ACTIVATION, over.role(), "graph inputs are never overwritten");
            assertEquals(over.bytes(), member.bytes());
            assertFalse(g.outputs().contains(over), "an output is never overwritten");
            for (Node u : over.users()) {
                assertTrue(u.index() <= producer.index(), over + " is read after " + member + " overwrote it");
            }
        });
    }

    /** The lower bound is the most aligned buffer bytes live at one step (brute force). */
    static void lowerBoundIsTheMostLiveBytes(Graph g, MemoryPlan plan) {
        long max = 0;
        for (int step = 0; step <= g.nodes().size(); step++) {
            long live = 0;
            for (Lifetime lt : plan.lifetimes()) {
                if (lt.first() <= step && step <= lt.last()) {
                    live += Planner.align(lt.bytes());
                }
            }
            max = Math.max(max, live);
        }
        assertEquals(max, plan.lowerBoundBytes());
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
