package org.leanseg.models;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.nn.BatchNorm2d;
import org.leanseg.nn.Conv;
import org.leanseg.nn.ConvBNAct;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.tensor.ShapeMath;

/**
 * MobileNetV2 backbone as MODEL_SPEC.md defines it: torchvision's {@code features.0..17} names
 * under {@code backbone.}, dilation instead of stride past the output stride (VainF convention:
 * a stage's first block keeps the previous dilation).
 */
public final class MobileNetV2 {
    private static final int[][] SETTINGS = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    static final int LOW_BLOCK = 3;
    static final int AUX_BLOCK = 13;

    private final ConvBNAct stem;
    private final List<Block> blocks = new ArrayList<>();
    private final int lowChannels;
    private final int highChannels;
    private final int auxChannels;

    public MobileNetV2(ParamSet ps, double width, int outputStride, double eps) {
        int cin = ShapeMath.makeDivisible(32 * width, 8);
        stem = new ConvBNAct(ps, "backbone.features.0", 3, cin, 3, 2, 1, 1, eps, Activation.relu6());
        int stride = 2;
        int dilation = 1;
        int low = 0;
        int aux = 0;
        for (int[] st : SETTINGS) {
            int t = st[0];
            int cout = ShapeMath.makeDivisible(st[1] * width, 8);
            int previousDilation = dilation;
            int s = st[3];
            if (stride == outputStride) {
                dilation *= s;
                s = 1;
            } else {
                stride *= s;
            }
            for (int i = 0; i < st[2]; i++) {
                int idx = blocks.size() + 1;
                blocks.add(new Block(ps, "backbone.features." + idx, cin, cout, i == 0 ? s : 1,
                        i == 0 ? previousDilation : dilation, t, eps));
                cin = cout;
                if (idx == LOW_BLOCK) {
                    low = cout;
                }
                if (idx == AUX_BLOCK) {
                    aux = cout;
                }
            }
        }
        lowChannels = low;
        highChannels = cin;
        auxChannels = aux;
    }

    public int lowChannels() {
        return lowChannels;
    }

    public int highChannels() {
        return highChannels;
    }

    public int auxChannels() {
        return auxChannels;
    }

    public Features forward(Trace t, Value x) {
        Graph g = t.g();
        Value low = null;
        Value aux = null;
        try (var s = g.scope("backbone")) {
            try (var s0 = g.scope("stem")) {
                x = stem.forward(t, x);
            }
            for (int i = 0; i < blocks.size(); i++) {
                try (var sb = g.scope("features." + (i + 1))) {
                    x = blocks.get(i).forward(t, x);
                }
                if (i + 1 == LOW_BLOCK) {
                    low = x;
                }
                if (i + 1 == AUX_BLOCK) {
                    aux = x;
                }
            }
        }
        return new Features(low, lowChannels, x, highChannels, aux, auxChannels);
    }

    /** InvertedResidual(cin, cout, s, d, t). */
    private static final class Block {
        private final ConvBNAct expand;
        private final ConvBNAct depthwise;
        private final Conv project;
        private final BatchNorm2d bn;
        private final boolean residual;

        Block(ParamSet ps, String p, int cin, int cout, int stride, int dilation, int t, double eps) {
            int hidden = (int) Math.round(cin * (double) t);
            String pre = p + ".conv.";
            int k = 0;
            expand = t == 1 ? null : new ConvBNAct(ps, pre + k++, cin, hidden, 1, 1, 1, 1, eps, Activation.relu6());
            depthwise = new ConvBNAct(ps, pre + k++, hidden, hidden, 3, stride, dilation, hidden, eps, Activation.relu6());
            project = new Conv(ps, pre + k++, hidden, cout, 1, 1, 1, 1, false);
            bn = new BatchNorm2d(ps, pre + k, cout, eps);
            residual = stride == 1 && cin == cout;
        }

        Value forward(Trace t, Value x) {
            Value h = expand == null ? x : expand.forward(t, x);
            h = bn.forward(t, project.forward(t, depthwise.forward(t, h)));
            return residual ? t.g().apply1(new Add(), x, h) : h;
        }
    }
}
