package org.leanseg.nn;

import org.leanseg.graph.Value;
import org.leanseg.ops.elementwise.Activation;

/** MODEL_SPEC's ConvBNAct: bias-free conv ({@code <prefix>.0}) → BN ({@code <prefix>.1}) → activation (or none). */
public final class ConvBNAct {
    private final Conv conv;
    private final BatchNorm2d bn;
    private final Activation act;

    public ConvBNAct(ParamSet ps, String prefix, int cin, int cout, int k, int stride, int dilation, int groups,
                     double eps, Activation act) {
        this.conv = new Conv(ps, prefix + ".0", cin, cout, k, stride, dilation, groups, false);
        this.bn = new BatchNorm2d(ps, prefix + ".1", cout, eps);
        this.act = act;
    }

    public Value forward(Trace t, Value x) {
        Value y = bn.forward(t, conv.forward(t, x));
        return act == null ? y : t.g().apply1(act, y);
    }
}
