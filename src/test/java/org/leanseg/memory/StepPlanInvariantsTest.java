package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.train.Step;
import org.leanseg.train.StepBuilder;
import org.leanseg.graph.Value;

/**
 * Memory plans of whole training steps (fused and not, under every recompute policy) keep the
 * planner's invariants: aligned, disjoint while live, every use inside its buffer's lifetime,
 * shared bytes only at declared in-place ops. Random graphs: {@link PlannerTest}.
 * Run: {@code mvn -B -q test -Dtest=StepPlanInvariantsTest}.
 */
class StepPlanInvariantsTest {
    /** The values the planner places (graph inputs and activations), as {@link PlannerTest} plans them. */
    static List<Value> planned(Graph g) {
        return PlannerTest.planned(g);
    }

    /**
     * The plan's invariants: offsets aligned and inside the arena, no two buffers live at once share
     * bytes, every use and write of a value lies within its buffer's lifetime, and values sharing
     * bytes while live are handed over at an op declared in place.
     */
    static void assertValid(Graph g, List<Node> schedule, MemoryPlan plan) {
        Map<Node, Integer> step = new IdentityHashMap<>();
        for (int i = 0; i < schedule.size(); i++) {
            step.put(schedule.get(i), i);
        }
        Map<Value, Lifetime> buffer = new IdentityHashMap<>();
        List<Lifetime> lts = plan.lifetimes();
        for (Lifetime a : lts) {
            buffer.put(a.value(), a);
            long oa = plan.offset(a.value());
            assertTrue(oa % Planner.ALIGN == 0);
            assertTrue(oa + a.bytes() <= plan.arenaBytes());
        }
        forLivePairs(lts, (a, b) -> {
            long oa = plan.offset(a.value());
            long ob = plan.offset(b.value());
            boolean disjoint = oa + a.bytes() <= ob || ob + b.bytes() <= oa;
            assertTrue(disjoint, () -> a + " and " + b + " are live together and overlap in the arena");
        });
        for (Value v : plan.offsets().keySet()) {
            Lifetime lt = buffer.get(plan.aliases().getOrDefault(v, v));
            if (v.producer() != null && step.containsKey(v.producer())) {
                int made = step.get(v.producer());
                assertTrue(made >= lt.first() && made <= lt.last(), () -> v + " written outside its buffer's lifetime " + lt);
            }
            for (Node user : v.users()) {
                Integer at = step.get(user);
                assertTrue(at == null || (at >= lt.first() && at <= lt.last()), () -> "use of " + v + " at " + at + " outside lifetime " + lt);
            }
        }
        assertTrue(plan.arenaBytes() >= plan.lowerBoundBytes());
        sharedMemoryOnlyInPlace(g, schedule, plan);
    }

    /** Values that share bytes while both live are one buffer, handed over at an op declared in place. */
    static void sharedMemoryOnlyInPlace(Graph g, List<Node> schedule, MemoryPlan plan) {
        Map<Node, Integer> step = new IdentityHashMap<>();
        for (int i = 0; i < schedule.size(); i++) {
            step.put(schedule.get(i), i);
        }
        List<Lifetime> values = Planner.lifetimes(schedule, planned(g), g.outputs());
        forLivePairs(values, (a, b) -> {
            long oa = plan.offset(a.value());
            long ob = plan.offset(b.value());
            if (oa + a.bytes() <= ob || ob + b.bytes() <= oa) {
                return;
            }
            // a is overwritten by b: b's producer declares it, and that is a's last read
            var producer = b.value().producer();
            assertTrue(producer != null && a.last() == b.first() && step.get(producer) == b.first(), a + " / " + b);
            int j = producer.op().inPlaceInput(b.value().outputIndex());
            assertTrue(j >= 0 && producer.input(j) == a.value(), a + " overwritten by " + b + " without an in-place declaration");
        });
    }

    /** Every pair (a, b) of lifetimes that overlap with a starting no later than b (both orders when they start together). */
    static void forLivePairs(List<Lifetime> lifetimes, java.util.function.BiConsumer<Lifetime, Lifetime> check) {
        List<Lifetime> byFirst = new ArrayList<>(lifetimes);
        byFirst.sort(java.util.Comparator.comparingInt(Lifetime::first));
        for (int i = 0; i < byFirst.size(); i++) {
            Lifetime a = byFirst.get(i);
            for (int j = i + 1; j < byFirst.size() && byFirst.get(j).first() <= a.last(); j++) {
                Lifetime b = byFirst.get(j);
                check.accept(a, b);
                if (a.first() == b.first()) {
                    check.accept(b, a);
                }
            }
        }
    }

    @Test
    void stepPlansUnderEveryRecomputePolicyKeepTheInvariants() {
        ModelConfig tiny = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
                .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(3).withAuxHead(true);
        for (StepPasses base : List.of(StepPasses.FUSED, StepPasses.NONE)) {
            for (RecomputePolicy p : List.of(RecomputePolicy.none(), RecomputePolicy.stages(), RecomputePolicy.sqrt())) {
                Step s = StepBuilder.training(new DeepLabV3Plus(tiny), 2, 32, 32).passes(base.withRecompute(p)).build();
                assertValid(s.graph(), s.schedule(), s.plan());
            }
        }
    }
}
