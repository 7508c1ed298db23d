package org.leanseg.nn;

import java.util.List;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.tensor.DType;

/**
 * PyTorch's nn.BatchNorm2d (momentum 0.1): {@code weight}, {@code bias}, {@code running_mean},
 * {@code running_var}, {@code num_batches_tracked}. The last is counted by the trainer once per
 * training forward (see {@link #counters}), as PyTorch does; it affects nothing else.
 */
public final class BatchNorm2d {
    public static final double MOMENTUM = 0.1;
    private final Variable gamma;
    private final Variable beta;
    private final Variable runningMean;
    private final Variable runningVar;
    private final Variable numBatchesTracked;
    private final double eps;

    public BatchNorm2d(ParamSet ps, String prefix, int channels, double eps) {
        this.gamma = ps.parameter(prefix + ".weight", ParamSet.Init.ONES, false, channels);
        this.beta = ps.parameter(prefix + ".bias", ParamSet.Init.ZEROS, false, channels);
        this.runningMean = ps.buffer(prefix + ".running_mean", ParamSet.Init.ZEROS, DType.F32, channels);
        this.runningVar = ps.buffer(prefix + ".running_var", ParamSet.Init.ONES, DType.F32, channels);
        this.numBatchesTracked = ps.buffer(prefix + ".num_batches_tracked", ParamSet.Init.ZEROS, DType.I64);
        this.eps = eps;
    }

    /** Train mode uses batch statistics and updates the running ones; eval mode uses running statistics. */
    public Value forward(Trace t, Value x) {
        return forward(t, x, t.training());
    }

    public Value forward(Trace t, Value x, boolean batchStatistics) {
        List<Value> out = t.g().apply(new BatchNorm(eps, MOMENTUM, batchStatistics), x, t.v(gamma), t.v(beta),
                t.v(runningMean), t.v(runningVar));
        return out.get(0);
    }

    public Variable counter() {
        return numBatchesTracked;
    }

    /** The num_batches_tracked variables among {@code ps}. */
    public static List<Variable> counters(ParamSet ps) {
        return ps.entries().stream().map(ParamSet.Entry::variable)
                .filter(v -> v.name().endsWith(".num_batches_tracked")).toList();
    }
}
