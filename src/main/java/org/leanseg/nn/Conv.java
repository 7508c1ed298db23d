package org.leanseg.nn;

import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.tensor.ShapeMath;

/** PyTorch's nn.Conv2d with symmetric "same" padding d*(k-1)/2: {@code <prefix>.weight} [, {@code .bias}]. */
public final class Conv {
    private final Variable weight;
    private final Variable bias;
    private final Conv2d op;

    public Conv(ParamSet ps, String prefix, int cin, int cout, int k, int stride, int dilation, int groups, boolean bias) {
        this.weight = ps.parameter(prefix + ".weight", ParamSet.Init.KAIMING_FAN_IN, true, cout, cin / groups, k, k);
        this.bias = bias ? ps.parameter(prefix + ".bias", ParamSet.Init.ZEROS, false, cout) : null;
        this.op = Conv2d.of(stride, ShapeMath.samePadding(k, dilation), dilation, groups);
    }

    public Value forward(Trace t, Value x) {
        return bias == null ? t.g().apply1(op, x, t.v(weight)) : t.g().apply1(op, x, t.v(weight), t.v(bias));
    }

    public Variable weight() {
        return weight;
    }
}
