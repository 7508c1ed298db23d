package org.leanseg.exec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.View;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Role;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.memory.Lifetime;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.Planner;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Runs a graph on a backend: removes dead ops, plans every input and activation into one arena,
 * allocates it once, then runs the ops in order on views. Persistent variables live in the
 * {@link VariableStore}.
 *
 * <pre>{@code
 * try (Executor ex = new Executor(graph, new ReferenceBackend(), store)) {
 *     ex.run(Map.of(x, image));
 *     Tensor logits = ex.read(out);
 * }
 * // a plan made elsewhere (a recompute policy, a test), NaN in every freed region, per-op callback:
 * new Executor(graph, backend, store, plan, new Executor.Options(true, (step, node, nanos) -> { }));
 * }</pre>
 *
 * <p>Note [Poisoned frees]: with {@link Options#poisonFreed} ({@code -Dleanseg.poisonFreed=true})
 * the executor fills each arena buffer with NaN right after the op that the plan names as its
 * last reader. A plan whose lifetime ends too early then makes NaN reach the loss, gradients or
 * weights at once, instead of silently reading stale but plausible bytes that happen not to have
 * been overwritten yet. Integer values (labels) read NaN slots as 0, so only float reads are caught;
 * every value a wrong plan could corrupt in the training step is a float.
 * Check: {@code mvn -B -q test -Dtest=PoisonFreedTest}.
 *
 * <p>Note [Whole-step graphs]: the plan fixes every address a step touches (one arena, variables
 * placed on first use, the workspace), so after one eager run, which places the variables and lets
 * the backend settle what it sets up on first use (cuDNN's algorithm search, scratch), the second run
 * asks the backend to capture the step's launches ({@link Backend#captureStep}) and from then on
 * replays the captured graph: one launch from Java instead of one per op (about 700 on the GPU).
 * Feeds are copied into their fixed buffers and the in-place guards read γ before each launch, outside
 * the graph; the loss is read after it. Not captured: runs with an observer (per-op timing) or with
 * poisoned frees, and backends without graphs (all but cuda; cuda with train.cuda_graphs: false),
 * which launch op by op. {@link #stepGraphStatus} says which. Check:
 * {@code mvn -B -q test -Dtest=StepGraphTest} (the bookkeeping, on a host emulation of capture).
 */
public final class Executor implements AutoCloseable {
    private final Graph graph;
    private final Backend backend;
    private final VariableStore store;
    private final List<Node> schedule;
    private final MemoryPlan plan;
    private final Buffer arena;
    private final Map<Value, View> views = new IdentityHashMap<>();
    private final Map<String, long[]> opNanos = new java.util.TreeMap<>();
    private final Options options;
    /** Note [Whole-step graphs]: the captured step, runs so far, whether capture was tried, and the status line. */
    private Backend.StepGraph stepGraph;
    private int runs;
    private boolean captureTried;
    private String stepGraphStatus = "launched op by op: the first run is never captured";
    /** Per schedule step, the buffers whose last reader it is (only with poisonFreed). */
    private final List<List<Value>> freedAfter;
    private final Map<Shape, Tensor> nans = new HashMap<>();
    /** Inputs of a later run already on their way to the device, by tensor identity. */
    private final Map<Tensor, Backend.Prefetched> prefetched = new IdentityHashMap<>();
    private boolean closed;

    /** Called after each op of a step, with its schedule position and wall time (profiling). */
    @FunctionalInterface
    public interface OpObserver {
        void afterOp(int step, Node node, long nanos);
    }

    /**
     * Debug and profiling switches. {@code poisonFreed}: Note [Poisoned frees]; {@code observer}:
     * called after every op (null for none).
     */
    public record Options(boolean poisonFreed, OpObserver observer) {
        /** {@code -Dleanseg.poisonFreed=true} turns poisoning on; no observer. */
        public static Options defaults() {
            return new Options(Boolean.getBoolean("leanseg.poisonFreed"), null);
        }
    }

    /** Plans the graph's schedule (in place where ops allow, Note [One in-place rule]) with {@link Options#defaults()}. */
    public Executor(Graph graph, Backend backend, VariableStore store) {
        this(graph, backend, store, null, Options.defaults());
    }

    /**
     * Runs {@code plan} (null: plan here), which must place every input and activation of the
     * graph's dead-code-free schedule, as {@link Planner#plan} does for that schedule; a training
     * step runs the plan its builder made ({@code train.Step#executor}).
     */
    public Executor(Graph graph, Backend backend, VariableStore store, MemoryPlan plan, Options options) {
        this.graph = graph;
        this.backend = backend;
        this.store = store;
        this.options = options;
        this.schedule = DeadCode.schedule(graph);
        this.plan = plan != null ? plan : Planner.plan(graph, schedule);
        int minElementBytes = this.plan.offsets().keySet().stream().mapToInt(v -> v.spec().dtype().bytes()).min().orElse(4);
        this.arena = backend.allocate(Math.max(this.plan.arenaBytes(), 4), minElementBytes);
        for (Value v : this.plan.offsets().keySet()) {
            views.put(v, backend.view(arena, this.plan.offset(v), v.spec()));
        }
        this.freedAfter = options.poisonFreed() ? freedAfter(this.plan, schedule.size()) : null;
    }

    /** The buffers each step is the last reader of; graph outputs (kept to the end) are never freed. */
    private static List<List<Value>> freedAfter(MemoryPlan plan, int steps) {
        List<List<Value>> freed = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            freed.add(new ArrayList<>());
        }
        for (Lifetime b : plan.lifetimes()) {
            if (b.last() < steps) {
                freed.get(b.last()).add(b.value());
            }
        }
        return freed;
    }

    public Options options() {
        return options;
    }

    public List<Node> schedule() {
        return Collections.unmodifiableList(schedule);
    }

    public MemoryPlan plan() {
        return plan;
    }

    public Backend backend() {
        return backend;
    }

    /**
     * Places every variable the schedule reads or writes on the backend now (a run does it on first
     * use): with the arena, all the device memory a step needs, e.g. to measure it before running.
     */
    public void adoptVariables() {
        for (Node n : schedule) {
            for (List<Value> values : List.of(n.inputs(), n.outputs())) {
                for (Value v : values) {
                    if (v.variable() != null) {
                        view(v);
                    }
                }
            }
        }
    }

    /**
     * Starts moving the inputs of a later {@link #run} to the device now ({@link Backend#prefetch}):
     * the trainer hands in the next batch before running the current one. A later run fed these
     * same tensor objects places the prefetched values (taken at this call); others upload as usual.
     */
    public void prefetch(Map<Value, Tensor> feeds) {
        for (Map.Entry<Value, Tensor> e : feeds.entrySet()) {
            checkFeed(e.getKey(), e.getValue());
            if (views.get(e.getKey()) != null && !prefetched.containsKey(e.getValue())) {
                prefetched.put(e.getValue(), backend.prefetch(e.getValue()));
            }
        }
    }

    private void checkFeed(Value v, Tensor t) {
        if (!graph.inputs().contains(v)) {
            throw new IllegalArgumentException("fed value " + v + " is not an input of this graph");
        }
        if (!t.shape().equals(v.spec().shape())) {
            throw new IllegalArgumentException("input '" + name(v) + "' expects shape " + v.spec().shape() + ", got " + t.shape());
        }
    }

    /** Runs one step with {@code feeds} for every graph input. */
    public void run(Map<Value, Tensor> feeds) {
        Set<Value> missing = new HashSet<>(graph.inputs());
        for (Map.Entry<Value, Tensor> e : feeds.entrySet()) {
            Value v = e.getKey();
            checkFeed(v, e.getValue());
            missing.remove(v);
            View dst = views.get(v);
            Backend.Prefetched early = prefetched.remove(e.getValue());
            if (dst != null && early != null) {
                backend.upload(early, dst);
            } else if (dst != null) {
                backend.upload(e.getValue(), dst);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("inputs not fed: " + missing);
        }
        checkInPlaceGuards();
        if (stepGraph == null && runs >= 1 && !captureTried) {
            captureTried = true;
            String off = options.observer() != null ? "per-op timing (an observer) needs per-op launches"
                    : freedAfter != null ? "poisoned frees run between ops" : null;
            stepGraph = off == null ? backend.captureStep(this::enqueueStep) : null;
            stepGraphStatus = stepGraph != null ? "captured at run " + (runs + 1) + " (" + schedule.size() + " ops), replayed since"
                    : "launched op by op: " + (off != null ? off : backend.stepGraphsOff());
        }
        if (stepGraph != null) {
            stepGraph.launch();
        } else {
            enqueueStep();
        }
        backend.synchronize();
        runs++;
        backend.afterStep();
    }

    /** Launches (or, on the host backends, runs) the schedule's ops in order, with poisoning and the observer. */
    private void enqueueStep() {
        for (int step = 0; step < schedule.size(); step++) {
            Node n = schedule.get(step);
            long nanos = runNode(n);
            if (freedAfter != null) {
                poison(freedAfter.get(step));
            }
            if (options.observer() != null) {
                options.observer().afterOp(step, n, nanos);
            }
        }
    }

    /** How steps run (Note [Whole-step graphs]): op by op and why, or from a captured graph. */
    public String stepGraphStatus() {
        return stepGraphStatus;
    }

    /**
     * Refuses to start a step whose guarded ops cannot run on their inputs' values (Note [In-place
     * guards] in Op: in-place BN and GN layers whose γ is too close to 0 to invert their output).
     */
    private void checkInPlaceGuards() {
        List<String> bad = new ArrayList<>();
        Set<Variable> gammas = new HashSet<>();
        for (Node n : schedule) {
            int[] guarded = n.op().guardedInputs();
            if (guarded.length == 0) {
                continue;
            }
            RefView[] values = new RefView[guarded.length];
            for (int i = 0; i < guarded.length; i++) {
                values[i] = hostView(n.input(guarded[i]));
            }
            String why = n.op().guardViolation(values);
            if (why != null) {
                Value layer = n.input(guarded[0]);
                Variable gamma = layer.variable();
                bad.add((gamma != null ? gamma.name() : layer.toString()) + ": " + why);
                if (gamma != null) {
                    gammas.add(gamma);
                }
            }
        }
        if (!bad.isEmpty()) {
            throw new InPlaceGuardException("in-place batch/group norm cannot recover its input from its output where gamma is near 0 ("
                    + String.join("; ", bad) + "); these layers need stock batch norm (same math, their input kept for the backward)", gammas);
        }
    }

    /** Note [Poisoned frees]: NaN over each buffer whose lifetime just ended. */
    private void poison(List<Value> buffers) {
        for (Value v : buffers) {
            Tensor nan = nans.computeIfAbsent(v.spec().shape(), s -> {
                float[] a = new float[s.size()];
                Arrays.fill(a, Float.NaN);
                return Tensor.of(s, a);
            });
            backend.upload(nan, views.get(v));
        }
    }

    /** The value's view on the host: itself on the reference backend, else a download (small vectors: γ, β). */
    private RefView hostView(Value v) {
        View view = view(v);
        if (view instanceof RefView r) {
            return r;
        }
        Tensor t = new Tensor(v.spec(), new float[v.spec().shape().size()]);
        backend.download(view, t);
        return new RefView(t.data(), 0, v.spec());
    }

    /** Runs one op; returns its wall time. */
    private long runNode(Node n) {
        View[] in = new View[n.inputs().size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = view(n.input(i));
        }
        View[] out = new View[n.outputs().size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = view(n.output(i));
        }
        long t0 = System.nanoTime();
        try {
            Ops.run(backend, n.op(), in, out);   // the backend's kernel (reference or cuda)
            long nanos = System.nanoTime() - t0;
            long[] acc = opNanos.computeIfAbsent(n.op().name(), k -> new long[2]);
            acc[0] += nanos;
            acc[1]++;
            return nanos;
        } catch (RuntimeException e) {
            throw new IllegalStateException("op " + n.op().name() + " at stage '" + n.stage() + "' failed: " + e, e);
        }
    }

    private View view(Value v) {
        View view = views.get(v);
        if (view == null && v.variable() != null) {
            Tensor host = store.get(v.variable());
            view = backend.view(backend.adopt(host), 0, v.spec());
            views.put(v, view);
        }
        if (view == null) {
            throw new IllegalStateException("value " + v + " has no storage (pruned producer?)");
        }
        return view;
    }

    /**
     * Copies every variable this executor touched back into the {@link VariableStore} (a device
     * backend updates its own copies; on the reference backend they are the store's arrays already).
     */
    public void syncVariables() {
        backend.synchronize();
        for (Map.Entry<Value, View> e : views.entrySet()) {
            Value v = e.getKey();
            if (v.variable() != null && !plan.offsets().containsKey(v)) {
                backend.download(e.getValue(), store.get(v.variable()));
            }
        }
    }

    /** Wall time spent per op name since construction: {nanos, calls}. */
    public Map<String, long[]> opTimes() {
        return java.util.Collections.unmodifiableMap(opNanos);
    }

    /** Copies a graph output (or a variable) back to the host. */
    public Tensor read(Value v) {
        if (v.role() == Role.ACTIVATION && !graph.outputs().contains(v)) {
            throw new IllegalArgumentException("value " + v + " is not a graph output; markOutput() it before building the executor");
        }
        Tensor t = new Tensor(v.spec(), new float[v.spec().shape().size()]);
        backend.download(view(v), t);
        return t;
    }

    private static String name(Value v) {
        return v.toString();
    }

    /** Frees the arena (the backend's variables stay); the executor cannot run afterwards. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (stepGraph != null) {
                stepGraph.close();
                stepGraph = null;
            }
            views.clear();
            prefetched.values().forEach(backend::discard);
            prefetched.clear();
            backend.free(arena);
        }
    }
}
