package org.leanseg.ops.elementwise;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/** Elementwise sum of two or more same-shaped tensors (residual adds, gradient sums). */
public record Add() implements Op {
    /** Cheap to recompute in backward (graph/passes/RecomputeCheapOps). */
    @Override
    public Replay cheapToReplay() {
        return Replay.CHEAP;
    }

    @Override
    public String name() {
        return "add";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() >= 2, "needs at least two inputs, got " + in.size());
        for (TensorSpec s : in) {
            OpException.check(s.equals(in.get(0)), "inputs must have the same shape and dtype: " + s + " vs " + in.get(0));
        }
        return List.of(in.get(0));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        List<Value> grads = new ArrayList<>();
        for (int i = 0; i < node.inputs().size(); i++) {
            grads.add(gradOut.get(0));
        }
        return grads;
    }

    /** Elementwise: the sum may overwrite the first addend. */
    @Override
    public int inPlaceInput(int output) {
        return 0;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return (in.size() - 1) * in.get(0).shape().numel();
    }

    /** Reference kernel. */
    public static void reference(Add op, RefView[] in, RefView[] out) {
        float[] y = out[0].data();
        int yo = out[0].offset();
        float[] a = in[0].data();
        int ao = in[0].offset();
        Parallel.range(out[0].size(), 1 << 15, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                y[yo + i] = a[ao + i];
            }
            for (int k = 1; k < in.length; k++) {
                float[] b = in[k].data();
                int bo = in[k].offset();
                for (int i = lo; i < hi; i++) {
                    y[yo + i] += b[bo + i];
                }
            }
        });
    }
}
