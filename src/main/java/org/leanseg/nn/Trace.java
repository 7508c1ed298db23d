package org.leanseg.nn;

import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;

/** What a module's forward traces into: the graph, and whether it is a training forward. */
public record Trace(Graph g, boolean training) {
    public Value v(Variable var) {
        return g.variable(var);
    }
}
