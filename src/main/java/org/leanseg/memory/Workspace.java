package org.leanseg.memory;

import java.util.List;
import org.leanseg.graph.Node;
import org.leanseg.tensor.TensorSpec;

/**
 * The workspace one node needs while it runs, as the plan counts it: the step's workspace region
 * is the largest of these over the schedule ({@link MemoryReport#workspaceBytes}). {@link #OP} asks
 * the op ({@code Op.workspaceBytes}); a device whose library wants other scratch (an algorithm
 * search under a limit, a user-managed scratchpad) plugs in its own function, and every plan of
 * the step builder, {@code auto}'s trial plans included, then counts that.
 *
 * <pre>{@code
 * Workspace ws = (node, inputs) -> node.op().workspaceBytes(inputs);
 * GraphPlan p = GraphPlan.of(graph, ws);
 * }</pre>
 */
@FunctionalInterface
public interface Workspace {
    /** The op's own declaration: {@code node.op().workspaceBytes(inputs)}. */
    Workspace OP = (node, inputs) -> node.op().workspaceBytes(inputs);

    /** Bytes of scratch {@code node} needs on inputs of {@code inputs}. */
    long bytes(Node node, List<TensorSpec> inputs);
}
