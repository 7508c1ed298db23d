package org.leanseg.eval;

import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Workspace;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.nn.Trace;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.ops.loss.UpsampleArgmax;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The eval-mode forward graphs of one model, one per input shape (logits, or logits and argmax),
 * compiled on first use and cached. Validation images differ in size, so the cache is bounded:
 * at most {@value #MAX_CACHED} executors, and with a byte limit the weights and workspace plus
 * the cached activation arenas stay under it (the least recently used executor is closed first).
 * {@link #planned} traces and plans a shape without allocating anything, so a caller can decide
 * before running whether a whole image fits. Both plan through the step builder's last stage
 * ({@link GraphPlan#of}, Note [One in-place rule]) and the executor runs that plan.
 *
 * <pre>{@code
 * try (InferenceGraphs graphs = new InferenceGraphs(model, backend, store, 0)) {
 *     long peak = graphs.planned(Shape.of(1, 3, 375, 500), false).peakBytes();
 *     Tensor logits = graphs.run(image, false); // [1, C, 375, 500]
 * }
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=MemoryBudgetTest}.
 */
final class InferenceGraphs implements AutoCloseable {
    static final int MAX_CACHED = 8;

    /**
     * What a graph plans: its peak (activation arena + weights and buffers + workspace) and the
     * arena alone, the part each cached executor holds on its own.
     */
    record Planned(long peakBytes, long arenaBytes) {
        long sharedBytes() {
            return peakBytes - arenaBytes;
        }
    }

    private record Key(Shape shape, boolean argmax) {
    }

    private record Compiled(Executor executor, Value image, Value output, Planned planned) {
    }

    private record Traced(Graph graph, Value image, Value output) {
    }

    private final DeepLabV3Plus model;
    private final Backend backend;
    private final VariableStore store;
    private final long limitBytes;
    private final Map<Key, Planned> plans = new HashMap<>();
    private final LinkedHashMap<Key, Compiled> cache = new LinkedHashMap<>(16, 0.75f, true); // least recent first
    private long cachedArenaBytes;

    /** {@code limitBytes}: the most the cached executors may plan together; 0 for no limit but the count. */
    InferenceGraphs(DeepLabV3Plus model, Backend backend, VariableStore store, long limitBytes) {
        this.model = model;
        this.backend = backend;
        this.store = store;
        this.limitBytes = limitBytes;
    }

    /** Each node's workspace on this backend's device (Note [cpu workspace]). */
    private Workspace workspace() {
        return org.leanseg.ops.Ops.workspace(org.leanseg.ops.Device.of(backend));
    }

    /** The plan of the graph for {@code shape} [N, 3, H, W], traced and planned but not allocated. */
    Planned planned(Shape shape, boolean argmax) {
        Key key = new Key(shape, argmax);
        Planned p = plans.get(key);
        if (p == null) {
            p = planned(GraphPlan.of(trace(key).graph(), workspace()));
            plans.put(key, p);
        }
        return p;
    }

    /** Logits [N, C, H, W] (or, with {@code argmax}, class indices [N, H, W]) of normalised images [N, 3, H, W]. */
    Tensor run(Tensor images, boolean argmax) {
        Key key = new Key(images.shape(), argmax);
        Compiled c = cache.get(key);
        if (c == null) {
            c = compile(key);
        }
        c.executor().run(Map.of(c.image(), images));
        return c.executor().read(c.output());
    }

    private Compiled compile(Key key) {
        Planned expected = limitBytes > 0 ? planned(key.shape(), key.argmax()) : null;
        if (expected != null) {
            evictFor(expected);
        } else if (cache.size() >= MAX_CACHED) {
            evictEldest();
        }
        Traced t = trace(key);
        GraphPlan gp = GraphPlan.of(t.graph(), workspace());
        Executor ex = new Executor(t.graph(), backend, store, gp.plan(), Executor.Options.defaults());
        Planned p = planned(gp);
        plans.putIfAbsent(key, p);
        Compiled c = new Compiled(ex, t.image(), t.output(), p);
        cache.put(key, c);
        cachedArenaBytes += p.arenaBytes();
        return c;
    }

    /** Closes least recently used executors until {@code next} fits beside the rest (an empty cache always takes it). */
    private void evictFor(Planned next) {
        while (!cache.isEmpty() && (cache.size() >= MAX_CACHED
                || next.sharedBytes() + cachedArenaBytes + next.arenaBytes() > limitBytes)) {
            evictEldest();
        }
    }

    private void evictEldest() {
        Iterator<Compiled> it = cache.values().iterator();
        Compiled eldest = it.next();
        it.remove();
        cachedArenaBytes -= eldest.planned().arenaBytes();
        eldest.executor().close();
    }

    /** Executors held now (for tests). */
    int cached() {
        return cache.size();
    }

    private Traced trace(Key key) {
        Graph g = new Graph();
        Value x = g.input("image", new TensorSpec(key.shape(), DType.F32));
        Value out = model.forward(new Trace(g, false), x).logits();
        if (key.argmax()) {
            // the mask straight from the stride-4 logits where this device runs it (Note [Fused upsample loss]);
            // the full-resolution resize is then dead and never scheduled
            boolean fused = out.producer() != null && out.producer().op() instanceof Resize r
                    && org.leanseg.ops.Ops.runs(org.leanseg.ops.Device.of(backend), UpsampleArgmax.of(r));
            out = fused ? g.apply1(UpsampleArgmax.of((Resize) out.producer().op()), out.producer().input(0)) : g.apply1(new Argmax(), out);
        }
        g.markOutput(out);
        return new Traced(g, x, out);
    }

    private static Planned planned(GraphPlan gp) {
        MemoryReport r = gp.report();
        return new Planned(r.plannedPeakBytes(), r.activationPeakBytes());
    }

    @Override
    public void close() {
        cache.values().forEach(c -> c.executor().close());
        cache.clear();
        cachedArenaBytes = 0;
    }
}
