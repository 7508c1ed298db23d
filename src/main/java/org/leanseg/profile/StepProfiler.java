package org.leanseg.profile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.leanseg.backend.Backend;
import org.leanseg.backend.DeviceMemory;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.graph.StageGroups;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Runs real training steps of a {@link StepPlan} — exactly its graph, schedule and arena plan, so a
 * recompute policy or other rewrites are profiled by handing in the plan built with them — on
 * random images and labels, and measures step time, per-stage op time and the bytes the backend
 * allocated (on the reference backend, each kernel's heap scratch too). {@link #run} also takes the
 * process's resident memory over the allocation and the steps ({@link ProcessMemory}), as a
 * cross-check of the backend's counters that no plan figure enters.
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

    /**
     * The step the trainer runs on {@code backend} (its rewrites, {@link StepPasses#forBackend}) under
     * {@code policy}: what {@code profile}, {@code bench-step} and the step benchmarks time.
     */
    public static StepPlan trainerPlan(ModelConfig model, int batch, int height, int width, Backend backend, RecomputePolicy policy) {
        return trainerPlan(model, batch, height, width, backend, policy, org.leanseg.tensor.Precision.FP32);
    }

    /** As above in {@code precision} (Note [Mixed precision]). */
    public static StepPlan trainerPlan(ModelConfig model, int batch, int height, int width, Backend backend, RecomputePolicy policy,
                                       org.leanseg.tensor.Precision precision) {
        return trainerPlan(model, batch, height, width, backend, policy, precision, null);
    }

    /** As above, distilled from a teacher (or null). */
    public static StepPlan trainerPlan(ModelConfig model, int batch, int height, int width, Backend backend, RecomputePolicy policy,
                                       org.leanseg.tensor.Precision precision, org.leanseg.train.Distillation distill) {
        org.leanseg.ops.Device<?, ?> device = org.leanseg.ops.Device.of(backend);
        return StepPlan.of(model, batch, height, width, StepPasses.forDevice(device).withRecompute(policy),
                org.leanseg.train.OptimizerSettings.pytorchDefault(), 1, device, precision, distill);
    }

    /** Runs {@code steps} SGD steps of {@code plan} on {@code backend}, weights (a teacher's too) initialised from {@code seed}. */
    public static Profile run(StepPlan plan, Backend backend, int steps, long seed) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        // the resident-memory window spans the arena and variable allocation and the steps (Measured.rss)
        ProcessMemory.Started rss = ProcessMemory.start();
        try (Session s = open(plan, backend, seed)) {
            for (int i = 0; i < steps; i++) {
                s.step();
            }
            Measured m = s.measured();
            return new Profile(plan, StageBreakdown.of(plan), m.withRss(rss.end()));
        }
    }

    /**
     * Allocates {@code plan}'s arena and variables on a device backend without running a step, and
     * measures the device memory around it; the allocation is freed again. Null on a host backend.
     */
    public static DeviceAllocation allocate(StepPlan plan, Backend backend, long seed) {
        DeviceMemory before = backend.deviceMemory();
        if (before == null) {
            return null;
        }
        long held = backend.currentBytes();
        try (Session s = open(plan, backend, seed)) {
            s.ex.adoptVariables();
            backend.synchronize();
            return new DeviceAllocation(backend.currentBytes() - held, before, backend.deviceMemory());
        }
    }

    /** Builds the executor for {@code plan} (allocating its arena) and initialises the weights from {@code seed}. */
    public static Session open(StepPlan plan, Backend backend, long seed) {
        return new Session(plan, backend, seed);
    }

    /**
     * Steps of one plan, run one at a time (a benchmark times each); {@link #measured()} sums them up.
     *
     * <pre>{@code
     * try (StepProfiler.Session s = StepProfiler.open(plan, backend, 1)) {
     *     Measured.Step first = s.step();
     * }
     * }</pre>
     */
    public static final class Session implements AutoCloseable {
        private final StepPlan plan;
        private final Backend backend;
        private final ReferenceBackend ref;
        private final Observer obs;
        private final Executor ex;
        private final Random rnd;
        private final List<Measured.Step> done = new ArrayList<>();
        private final DeviceMemory deviceBefore;

        private Session(StepPlan plan, Backend backend, long seed) {
            this.plan = plan;
            this.backend = backend;
            this.deviceBefore = backend.deviceMemory();
            this.ref = backend instanceof ReferenceBackend r ? r : null;
            this.obs = new Observer(ref, backend instanceof org.leanseg.backend.cuda.CudaBackend g ? g : null);
            this.rnd = new Random(seed);
            VariableStore store = new VariableStore();
            plan.network().params().initialize(store, seed);
            if (plan.train().distillation() != null) {
                // random teacher weights: a step's time and memory do not depend on them
                plan.train().distillation().teacher().params().initialize(store, seed + 1);
            }
            Executor.Options opts = new Executor.Options(Executor.Options.defaults().poisonFreed(), obs);
            this.ex = plan.step().executor(backend, store, opts);
            if (ex.schedule().size() != plan.schedule().size()) {
                throw new IllegalStateException("executor schedule differs from the plan's");
            }
        }

        /** Runs one step on a fresh random batch. */
        public Measured.Step step() {
            int number = done.size() + 1;
            Map<Value, Tensor> feeds = feeds(plan, rnd, number);
            obs.startStep(number == 1);
            long t0 = System.nanoTime();
            ex.run(feeds);
            double millis = (System.nanoTime() - t0) / 1e6;
            obs.endStep();
            float loss = ex.read(plan.train().loss()).data()[0];
            long scratch = obs.stepScratch;
            long highWater = scratch < 0 ? -1 : backend.currentBytes() + scratch;
            if (backend instanceof org.leanseg.backend.cpu.CpuBackend cpu) {
                // the native allocator's own counters: what was allocated, not the plan re-added
                scratch = cpu.peakWorkspaceBytes();
                highWater = cpu.peakBytes();
            }
            Measured.Step s = new Measured.Step(number, millis, loss, scratch, highWater);
            done.add(s);
            return s;
        }

        /** What the steps so far measured; stage times leave the first step out when there are more. */
        public Measured measured() {
            if (done.isEmpty()) {
                throw new IllegalStateException("no step run yet");
            }
            boolean later = done.size() > 1;
            int timed = later ? done.size() - 1 : 1;
            Map<String, Measured.StageTime> stages = new LinkedHashMap<>();
            (later ? obs.laterNanos : obs.firstNanos).forEach((k, nanos) -> stages.put(k,
                    new Measured.StageTime(nanos / 1e6 / timed, obs.stageScratch.getOrDefault(k, -1L))));
            Measured.Step last = done.get(done.size() - 1);
            org.leanseg.backend.cpu.CpuBackend cpu = backend instanceof org.leanseg.backend.cpu.CpuBackend c ? c : null;
            long arena = ref != null ? ref.arenaBytes() : cpu != null ? cpu.arenaBytes() : -1;
            long variables = ref != null ? ref.variableBytes() : cpu != null ? cpu.variableBytes() : -1;
            return new Measured(backend.name(), ref != null || cpu != null ? Parallel.threads() : 1, List.copyOf(done), arena, variables,
                    last.scratchBytes(), obs.scratchOp, obs.scratchStage, last.highWaterBytes(), highWaterSource(cpu), backend.peakBytes(),
                    stages, deviceBefore, deviceAfter(), deviceReport(later ? obs.laterOpNanos : obs.firstOpNanos, timed), null);
        }

        private String highWaterSource(org.leanseg.backend.cpu.CpuBackend cpu) {
            if (cpu != null) {
                return "the native allocator's peak (arenas, variables, workspace as allocated)";
            }
            if (ref != null) {
                return "arena + variables allocated + the largest op's heap allocation (per-thread counters)";
            }
            return "not measured per step (the backend's own peak over the run below)";
        }

        /** The backend's device lines, then the ops by time (CUDA events on cuda, the host clock elsewhere), largest first. */
        private List<String> deviceReport(Map<String, long[]> opNanos, int timed) {
            List<String> lines = new ArrayList<>(backend.deviceReport());
            lines.addAll(opTimeLines(opNanos, timed, 20, obs.gpu != null, backend.peakBandwidthBytesPerSecond()));
            return List.copyOf(lines);
        }

        private DeviceMemory deviceAfter() {
            if (deviceBefore == null) {
                return null;
            }
            backend.synchronize();
            return backend.deviceMemory();
        }

        /** Wall time per op name over every step so far: {nanos, calls} ({@link Executor#opTimes}). */
        public Map<String, long[]> opTimes() {
            return ex.opTimes();
        }

        @Override
        public void close() {
            ex.close();
        }
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

    /**
     * The {@code top} op names by time per step (CUDA events on the cuda backend, else the host clock):
     * milliseconds, share of the step's summed op time, launches per step, the bytes they move per step
     * (each input read once and each output written once: a lower bound of the traffic), the achieved
     * bandwidth and FLOP rate, and the bandwidth as a share of the device's peak where it is known
     * ({@code peakBytesPerSecond} > 0). {@code opStats}: {nanos, calls, bytes, flops} per op name.
     */
    static List<String> opTimeLines(Map<String, long[]> opStats, int timed, int top, boolean deviceEvents, double peakBytesPerSecond) {
        long total = 0;
        for (long[] a : opStats.values()) {
            total += a[0];
        }
        List<Map.Entry<String, long[]>> byTime = new ArrayList<>(opStats.entrySet());
        byTime.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        List<String> lines = new ArrayList<>();
        lines.add(String.format(java.util.Locale.ROOT, "%s per op (per step): %.3f ms over %d op names; moved = inputs read + outputs"
                + " written%s", deviceEvents ? "device time (CUDA events, no host sync per op)" : "host time", total / 1e6 / timed,
                opStats.size(), peakBytesPerSecond > 0 ? String.format(java.util.Locale.ROOT, "; peak bandwidth %.0f GB/s (device attributes)",
                peakBytesPerSecond / 1e9) : ""));
        for (Map.Entry<String, long[]> e : byTime.subList(0, Math.min(top, byTime.size()))) {
            long[] a = e.getValue();
            double seconds = a[0] / 1e9;
            double gbPerSecond = seconds > 0 ? a[2] / seconds / 1e9 : 0;
            lines.add(String.format(java.util.Locale.ROOT, "  %-40s %9.3f ms %5.1f%% %5d launches %10.1f MB %8.1f GB/s %8.1f GFLOP/s%s",
                    e.getKey(), a[0] / 1e6 / timed, total == 0 ? 0.0 : 100.0 * a[0] / total, a[1] / timed, a[2] / 1e6 / timed, gbPerSecond,
                    seconds > 0 ? a[3] / seconds / 1e9 : 0.0, peakBytesPerSecond > 0
                            ? String.format(java.util.Locale.ROOT, " %5.1f%% of peak", 100 * gbPerSecond * 1e9 / peakBytesPerSecond) : ""));
        }
        return lines;
    }

    /**
     * Adds op i's {@code nanos[i]} to its stage's sum and to {@code {nanos, count, bytes moved, FLOPs}} of its op name (schedule order;
     * the lists and array have one entry per op run).
     */
    static void addTimes(List<String> stages, List<Node> ops, long[] nanos, Map<String, Long> stageNanos, Map<String, long[]> opStats) {
        if (stages.size() != nanos.length || ops.size() != nanos.length) {
            throw new IllegalStateException(nanos.length + " op times for " + stages.size() + " ops");
        }
        for (int i = 0; i < nanos.length; i++) {
            stageNanos.merge(stages.get(i), nanos[i], Long::sum);
            Node n = ops.get(i);
            long[] acc = opStats.computeIfAbsent(n.op().name(), k -> new long[4]);
            acc[0] += nanos[i];
            acc[1]++;
            acc[2] += movedBytes(n);
            acc[3] += n.op().flops(n.inputs().stream().map(Value::spec).toList());
        }
    }

    /** Bytes an op run moves at least: each input read once, each output written once. */
    static long movedBytes(Node n) {
        long b = 0;
        for (Value v : n.inputs()) {
            b += v.bytes();
        }
        for (Value v : n.outputs()) {
            b += v.bytes();
        }
        return b;
    }

    /**
     * Per-op time and scratch, summed into stage groups; scratch per step. Note [Op timing by events]: on the
     * cuda backend an op's time is device time from CUDA events (CudaBackend.markOp after each op, read once
     * after the step), not the host's launch time; the host clock times the other backends.
     */
    private static final class Observer implements Executor.OpObserver {
        private final ReferenceBackend ref;
        private final org.leanseg.backend.cuda.CudaBackend gpu;
        private final List<String> pendingStages = new ArrayList<>();
        private final List<Node> pendingOps = new ArrayList<>();
        /** {Device (cuda) or host nanoseconds, runs, bytes moved, FLOPs} per op name, over the steps after the first (the first if only one). */
        private final Map<String, long[]> firstOpNanos = new LinkedHashMap<>();
        private final Map<String, long[]> laterOpNanos = new LinkedHashMap<>();
        private final Map<String, Long> firstNanos = new LinkedHashMap<>();
        private final Map<String, Long> laterNanos = new LinkedHashMap<>();
        private final Map<String, Long> stageScratch = new LinkedHashMap<>();
        private boolean first;
        private long stepScratch;
        private String scratchOp = "";
        private String scratchStage = "";

        Observer(ReferenceBackend ref, org.leanseg.backend.cuda.CudaBackend gpu) {
            this.ref = ref;
            this.gpu = gpu;
        }

        /** On cuda: the events' device times, per op in schedule order, into the stage and op sums. */
        void endStep() {
            if (gpu == null) {
                return;
            }
            float[] ms = gpu.readOpTimes();
            long[] nanos = new long[ms.length];
            for (int i = 0; i < ms.length; i++) {
                nanos[i] = Math.round(ms[i] * 1e6);
            }
            addTimes(pendingStages, pendingOps, nanos, first ? firstNanos : laterNanos, first ? firstOpNanos : laterOpNanos);
            pendingStages.clear();
            pendingOps.clear();
        }

        void startStep(boolean first) {
            this.first = first;
            if (gpu != null) {
                gpu.startOpTimer();
            }
            stepScratch = ref == null ? -1 : 0;
            stageScratch.clear();
            scratchOp = "";
            scratchStage = "";
        }

        @Override
        public void afterOp(int step, Node node, long nanos) {
            String stage = StageGroups.group(node.stage());
            if (gpu != null) {
                gpu.markOp();   // its device time is read after the step (endStep)
                pendingStages.add(stage);
                pendingOps.add(node);
            } else {
                addTimes(List.of(stage), List.of(node), new long[] {nanos}, first ? firstNanos : laterNanos,
                        first ? firstOpNanos : laterOpNanos);
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
