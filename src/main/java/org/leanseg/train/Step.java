package org.leanseg.train;

import java.util.List;
import org.leanseg.backend.Backend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.MemoryPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Workspace;

/**
 * A built and planned training step ({@link StepBuilder#build}): the step graph with its schedule,
 * plan and report, the optimizer graph's when gradients are accumulated, and the traced graphs'
 * handles ({@link #train()}: image, label, lr, loss inputs and outputs).
 *
 * <pre>{@code
 * Step s = StepBuilder.training(model, 2, 256, 256).build();
 * try (Executor ex = s.executor(backend, store, Executor.Options.defaults())) {
 *     ex.run(Map.of(s.train().image(), images, s.train().label(), labels, s.train().lr(), lr));
 * }
 * }</pre>
 *
 * @param step the step graph (forward, loss, backward and, without accumulation, the update), planned
 * @param optimizer with accumulation, the separate update graph, planned; else null
 * @param train the graphs' handles and optimizer slots
 * @param passes the rewrites the step was built with (as given, e.g. for a rebuild with stock BN)
 * @param workspace how each node's workspace was counted in the plans
 * @param batch images per micro-batch
 * @param height image height
 * @param width image width
 * @param buildMillis wall time of tracing, rewriting and planning
 */
public record Step(GraphPlan step, GraphPlan optimizer, TrainGraph train, StepPasses passes, Workspace workspace, int batch,
                   int height, int width, long buildMillis) {
    public Graph graph() {
        return step.graph();
    }

    public List<Node> schedule() {
        return step.schedule();
    }

    public MemoryPlan plan() {
        return step.plan();
    }

    /** The step graph's report: {@code plannedPeakBytes()} is what {@code plan} prints and the trainer's executor allocates. */
    public MemoryReport report() {
        return step.report();
    }

    /** An executor running the step graph on the builder's plan (allocates its arena). */
    public Executor executor(Backend backend, VariableStore store, Executor.Options options) {
        return new Executor(step.graph(), backend, store, step.plan(), options);
    }

    /** With accumulation, an executor running the optimizer graph on its plan; else null. */
    public Executor optimizerExecutor(Backend backend, VariableStore store, Executor.Options options) {
        return optimizer == null ? null : new Executor(optimizer.graph(), backend, store, optimizer.plan(), options);
    }
}
