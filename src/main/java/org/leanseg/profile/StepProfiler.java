package org.leanseg.profile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.memory.StageGroups;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Runs real training steps of a {@link StepPlan} — exactly its graph, schedule and arena plan, so a
 * recompute policy or other rewrites are profiled by handing in the plan built with them — on
 * random images and labels, and measures step time, per-stage op time and the bytes the backend
 * allocated (on the reference backend, each kernel's heap scratch too).
 *
 * <pre>{@code
 * Profile p = StepProfiler.run(StepPlan.of(cfg, 2, 256, 256), new ReferenceBackend(), 2, 1);
 * p.measured().highWaterBytes();   // vs p.plan().report().plannedPeakBytes()
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProfileCommandTest}.
 */
public final class StepProfiler {
    /** SGD learning rate of the profiled steps (the value does not change time or memory). */
    private static final double LR = 0.01;

    private StepProfiler() {
    }

    /** Runs {@code steps} SGD steps of {@code plan} on {@code backend}, weights initialised from {@code seed}. */
    public static Profile run(StepPlan plan, Backend backend, int steps, long seed) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        TrainGraph tg = plan.train();
        VariableStore store = new VariableStore();
        plan.network().params().initialize(store, seed);
        ReferenceBackend ref = backend instanceof ReferenceBackend r ? r : null;
        Observer obs = new Observer(ref);
        Executor.Options opts = new Executor.Options(Executor.Options.defaults().poisonFreed(), obs);
        List<Measured.Step> done = new ArrayList<>();
        try (Executor ex = new Executor(tg.stepGraph(), backend, store, plan.plan(), opts)) {
            if (ex.schedule().size() != plan.schedule().size()) {
                throw new IllegalStateException("executor schedule differs from the plan's");
            }
            Random rnd = new Random(seed);
            for (int step = 1; step <= steps; step++) {
                Map<Value, Tensor> feeds = feeds(plan, rnd, step);
                obs.startStep(step > 1 || steps == 1);
                long t0 = System.nanoTime();
                ex.run(feeds);
                double millis = (System.nanoTime() - t0) / 1e6;
                float loss = ex.read(tg.loss()).data()[0];
                long held = backend.currentBytes();
                done.add(new Measured.Step(step, millis, loss, obs.stepScratch, obs.stepScratch < 0 ? -1 : held + obs.stepScratch));
            }
        }
        int timedSteps = steps > 1 ? steps - 1 : 1;
        Map<String, Measured.StageTime> stages = new LinkedHashMap<>();
        obs.stageNanos.forEach((k, nanos) -> stages.put(k, new Measured.StageTime(nanos / 1e6 / timedSteps,
                obs.stageScratch.getOrDefault(k, -1L))));
        Measured.Step last = done.get(done.size() - 1);
        Measured m = new Measured(backend.name(), ref != null ? Parallel.threads() : 1, List.copyOf(done),
                ref != null ? ref.arenaBytes() : -1, ref != null ? ref.variableBytes() : -1,
                last.scratchBytes(), obs.scratchOp, obs.scratchStage, last.highWaterBytes(), backend.peakBytes(), stages);
        return new Profile(plan, StageBreakdown.of(plan), m);
    }

    /** Random N(0, 1) images, uniform labels over the classes, and the learning rate. */
    private static Map<Value, Tensor> feeds(StepPlan plan, Random rnd, int step) {
        TrainGraph tg = plan.train();
        int n = plan.batch() * plan.height() * plan.width();
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = rnd.nextInt(plan.model().numClasses());
        }
        Map<Value, Tensor> feeds = new LinkedHashMap<>();
        feeds.put(tg.image(), Tensor.gaussian(Shape.of(plan.batch(), 3, plan.height(), plan.width()), 1, rnd));
        feeds.put(tg.label(), Tensor.labels(Shape.of(plan.batch(), plan.height(), plan.width()), labels));
        float[] hyper = OptimizerSettings.pytorchDefault().hyper(LR, step);
        feeds.put(tg.lr(), Tensor.of(Shape.of(hyper.length), hyper));
        return feeds;
    }

    /** Per-op time and scratch, summed into stage groups; scratch per step. */
    private static final class Observer implements Executor.OpObserver {
        private final ReferenceBackend ref;
        private final Map<String, Long> stageNanos = new LinkedHashMap<>();
        private final Map<String, Long> stageScratch = new LinkedHashMap<>();
        private boolean timed;
        private long stepScratch;
        private String scratchOp = "";
        private String scratchStage = "";

        Observer(ReferenceBackend ref) {
            this.ref = ref;
        }

        void startStep(boolean timed) {
            this.timed = timed;
            stepScratch = ref == null ? -1 : 0;
            stageScratch.clear();
            scratchOp = "";
            scratchStage = "";
        }

        @Override
        public void afterOp(int step, Node node, long nanos) {
            String stage = StageGroups.group(node.stage());
            if (timed) {
                stageNanos.merge(stage, nanos, Long::sum);
            }
            if (ref != null) {
                long s = ref.lastScratchBytes();
                stageScratch.merge(stage, s, Math::max);
                if (s > stepScratch) {
                    stepScratch = s;
                    scratchOp = node.op().name();
                    scratchStage = stage;
                }
            }
        }
    }
}
