package org.leanseg.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.memory.Lifetime;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.Planner;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Note [Poisoned frees]: a training step of a tiny model gives bit-identical loss, gradients and
 * updated weights with freed regions poisoned, and poisoning turns a plan whose lifetime ends one op
 * early into NaN in the result (the same wrong plan runs silently without it).
 */
class PoisonFreedTest {
    private static final int BATCH = 2;
    private static final int SIZE = 32;

    /** What one run leaves behind: the losses, then every variable by name. */
    private record Outcome(List<Float> losses, Map<String, float[]> variables) {
        boolean allFinite() {
            return losses.stream().allMatch(Float::isFinite)
                    && variables.values().stream().allMatch(PoisonFreedTest::finite);
        }
    }

    private static boolean finite(float[] a) {
        for (float f : a) {
            if (!Float.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    private static Map<Value, Tensor> feeds(TrainGraph tg, int step) {
        Random rnd = new Random(7 + step);
        int[] labels = new int[BATCH * SIZE * SIZE];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(5);
        }
        Map<Value, Tensor> f = new LinkedHashMap<>();
        f.put(tg.image(), Tensor.gaussian(Shape.of(BATCH, 3, SIZE, SIZE), 1, rnd));
        f.put(tg.label(), Tensor.labels(Shape.of(BATCH, SIZE, SIZE), labels));
        return f;
    }

    /**
     * Two micro-batches accumulated (gradients land in persistent accumulators, read after the
     * second), then the SGD update, then one more plain step; {@code wrongPlan} may edit the plan.
     */
    private static Outcome train(boolean poison, java.util.function.BiFunction<MemoryPlan, List<Node>, MemoryPlan> wrongPlan) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        TrainGraph tg = new TrainGraph(m, BATCH, SIZE, SIZE, OptimizerSettings.pytorchDefault(), 2);
        VariableStore store = new VariableStore();
        m.params().initialize(store, 3);
        Executor.Options opts = new Executor.Options(poison, null);
        List<Node> schedule = DeadCode.schedule(tg.stepGraph());
        MemoryPlan plan = wrongPlan.apply(Planner.plan(tg.stepGraph(), schedule), schedule);
        Map<String, float[]> seen = new LinkedHashMap<>();
        List<Float> losses = new ArrayList<>();
        try (Executor step = new Executor(tg.stepGraph(), new ReferenceBackend(), store, plan, opts);
             Executor sgd = new Executor(tg.optimizerGraph(), new ReferenceBackend(), store, null, opts)) {
            for (int i = 0; i < 2; i++) {
                step.run(feeds(tg, i));
                losses.add(step.read(tg.loss()).data()[0]);
            }
            tg.gradientAccumulators().forEach((p, acc) -> seen.put("grad/" + p.name(), store.get(acc).data().clone()));
            sgd.run(Map.of(tg.lr(), Tensor.of(Shape.of(1), 0.05f)));
            step.run(feeds(tg, 2));
            losses.add(step.read(tg.loss()).data()[0]);
        }
        store.byName().forEach((k, t) -> seen.put(k, t.data().clone()));
        return new Outcome(losses, seen);
    }

    private static Outcome plain;

    /** The run without poisoning and with the planner's plan, shared by both tests. */
    private static synchronized Outcome plain() {
        if (plain == null) {
            plain = train(false, (p, s) -> p);
        }
        return plain;
    }

    @Test
    void poisonedRunEqualsPlainRunBitForBit() {
        Outcome plain = plain();
        Outcome poisoned = train(true, (p, s) -> p);
        assertTrue(plain.allFinite(), "plain run not finite: " + plain.losses());
        assertTrue(poisoned.allFinite(), "poisoned run not finite: " + poisoned.losses());
        assertEquals(plain.losses(), poisoned.losses());
        assertEquals(plain.variables().keySet(), poisoned.variables().keySet());
        assertTrue(plain.variables().keySet().stream().anyMatch(k -> k.startsWith("grad/")));
        plain.variables().forEach((k, v) -> assertArrayEquals(v, poisoned.variables().get(k), k));
    }

    @Test
    void poisonCatchesALifetimeEndingOneOpEarly() {
        // a forward activation whose last reader is a weight-gradient conv: the plan ends it one op early
        java.util.function.BiFunction<MemoryPlan, List<Node>, MemoryPlan> shorten = (p, schedule) -> {
            List<Lifetime> lts = new ArrayList<>(p.lifetimes());
            for (int i = 0; i < lts.size(); i++) {
                Lifetime lt = lts.get(i);
                Node producer = lt.value().producer();
                if (producer != null && producer.phase() == Phase.FORWARD && lt.last() - lt.first() > 1
                        && schedule.get(lt.last()).op().name().equals("conv2d_backward_filter")) {
                    lts.set(i, new Lifetime(lt.value(), lt.first(), lt.last() - 1, lt.bytes()));
                    return new MemoryPlan(p.offsets(), lts, p.aliases(), p.arenaBytes(), p.lowerBoundBytes());
                }
            }
            throw new AssertionError("no forward activation last read by conv2d_backward_filter");
        };
        Outcome plain = plain();
        Outcome silent = train(false, shorten);
        assertTrue(silent.allFinite(), "without poisoning the wrong plan goes unnoticed here");
        assertEquals(plain.losses(), silent.losses());
        Outcome caught = train(true, shorten);
        assertFalse(caught.allFinite(), "poisoning must make the wrong plan visible");
        assertTrue(caught.variables().entrySet().stream().anyMatch(e -> e.getKey().startsWith("grad/") && !finite(e.getValue())),
                "NaN reaches the gradients");
    }
}
