package org.leanseg.models;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.nn.BatchNorm2d;
import org.leanseg.nn.Conv;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.tensor.ShapeMath;

/**
 * Aligned Xception-65 backbone (timm {@code xception65} names under {@code backbone.}), as
 * MODEL_SPEC.md defines it: stem, R+5 XceptionModules of separable convs, dilation instead of
 * stride past the output stride. Low-level features are {@code blocks.1.stack.act3}'s output.
 */
public final class Xception65 {
    static final int LOW_BLOCK = 1;

    private final Stem stem0;
    private final Stem stem1;
    private final List<Module> blocks = new ArrayList<>();
    private final int lowChannels;
    private final int highChannels;
    private final int auxChannels;

    public Xception65(ParamSet ps, double width, int middleRepeats, int outputStride, double eps) {
        int c32 = ch(32, width);
        int c64 = ch(64, width);
        stem0 = new Stem(ps, "backbone.stem.0", 3, c32, 2, eps);
        stem1 = new Stem(ps, "backbone.stem.1", c32, c64, 1, eps);
        List<int[]> cfg = new ArrayList<>(); // cin, c1, c2, c3, stride
        cfg.add(new int[] {64, 128, 128, 128, 2});
        cfg.add(new int[] {128, 256, 256, 256, 2});
        cfg.add(new int[] {256, 728, 728, 728, 2});
        for (int i = 0; i < middleRepeats; i++) {
            cfg.add(new int[] {728, 728, 728, 728, 1});
        }
        cfg.add(new int[] {728, 728, 1024, 1024, 2});
        cfg.add(new int[] {1024, 1536, 1536, 2048, 1});
        int stride = 2;
        int dilation = 1;
        for (int i = 0; i < cfg.size(); i++) {
            int[] c = cfg.get(i);
            int s = c[4];
            int blockDilation = dilation;
            if (s > 1) {
                if (stride * s > outputStride) {
                    dilation *= s;
                    s = 1;
                } else {
                    stride *= s;
                }
            }
            boolean last = i == cfg.size() - 1;
            blocks.add(new Module(ps, "backbone.blocks." + i, ch(c[0], width),
                    new int[] {ch(c[1], width), ch(c[2], width), ch(c[3], width)}, s, blockDilation, !last, eps));
        }
        lowChannels = ch(256, width);
        highChannels = ch(2048, width);
        auxChannels = ch(728, width);
    }

    static int ch(int c, double width) {
        return ShapeMath.makeDivisible(c * width, 8);
    }

    public Features forward(Trace t, Value x) {
        Graph g = t.g();
        Value[] low = new Value[1];
        Value aux = null;
        try (var s = g.scope("backbone")) {
            try (var s0 = g.scope("stem")) {
                x = stem1.forward(t, stem0.forward(t, x));
            }
            for (int i = 0; i < blocks.size(); i++) {
                try (var sb = g.scope("blocks." + i)) {
                    x = blocks.get(i).forward(t, x, i == LOW_BLOCK ? low : null);
                }
                if (i == blocks.size() - 3) {
                    aux = x; // output of the last middle block, stride OS
                }
            }
        }
        return new Features(low[0], lowChannels, x, highChannels, aux, auxChannels);
    }

    /** conv (bias-free) → BN → ReLU, timm's ConvNormAct with names {@code .conv}, {@code .bn}. */
    private static final class Stem {
        private final Conv conv;
        private final BatchNorm2d bn;

        Stem(ParamSet ps, String p, int cin, int cout, int stride, double eps) {
            conv = new Conv(ps, p + ".conv", cin, cout, 3, stride, 1, 1, false);
            bn = new BatchNorm2d(ps, p + ".bn", cout, eps);
        }

        Value forward(Trace t, Value x) {
            return t.g().apply1(Activation.relu(), bn.forward(t, conv.forward(t, x)));
        }
    }

    /** conv_dw → bn_dw → [ReLU] → conv_pw → bn_pw → [ReLU]; the ReLUs only in the last block. */
    private static final class SepConv {
        private final Conv dw;
        private final BatchNorm2d bnDw;
        private final Conv pw;
        private final BatchNorm2d bnPw;
        private final boolean inner;

        SepConv(ParamSet ps, String p, int cin, int cout, int stride, int dilation, boolean innerRelu, double eps) {
            dw = new Conv(ps, p + ".conv_dw", cin, cin, 3, stride, dilation, cin, false);
            bnDw = new BatchNorm2d(ps, p + ".bn_dw", cin, eps);
            pw = new Conv(ps, p + ".conv_pw", cin, cout, 1, 1, 1, 1, false);
            bnPw = new BatchNorm2d(ps, p + ".bn_pw", cout, eps);
            inner = innerRelu;
        }

        Value forward(Trace t, Value x) {
            Value h = bnDw.forward(t, dw.forward(t, x));
            if (inner) {
                h = t.g().apply1(Activation.relu(), h);
            }
            h = bnPw.forward(t, pw.forward(t, h));
            return inner ? t.g().apply1(Activation.relu(), h) : h;
        }
    }

    /** XceptionModule: three SepConvs (ReLU before each when startWithRelu), plus skip. */
    private static final class Module {
        private final SepConv[] convs = new SepConv[3];
        private final Conv shortcut;
        private final BatchNorm2d shortcutBn;
        private final boolean startWithRelu;

        Module(ParamSet ps, String p, int cin, int[] outs, int stride, int dilation, boolean startWithRelu, double eps) {
            this.startWithRelu = startWithRelu;
            int c = cin;
            for (int k = 0; k < 3; k++) {
                convs[k] = new SepConv(ps, p + ".stack.conv" + (k + 1), c, outs[k], k == 2 ? stride : 1, dilation,
                        !startWithRelu, eps);
                c = outs[k];
            }
            boolean projection = startWithRelu && (outs[2] != cin || stride != 1);
            shortcut = projection ? new Conv(ps, p + ".shortcut.conv", cin, outs[2], 1, stride, 1, 1, false) : null;
            shortcutBn = projection ? new BatchNorm2d(ps, p + ".shortcut.bn", outs[2], eps) : null;
        }

        /** {@code lowOut[0]} receives act3's output when asked (the low-level features). */
        Value forward(Trace t, Value x, Value[] lowOut) {
            Value h = x;
            for (int k = 0; k < 3; k++) {
                if (startWithRelu) {
                    h = t.g().apply1(Activation.relu(), h);
                    if (k == 2 && lowOut != null) {
                        lowOut[0] = h;
                    }
                }
                h = convs[k].forward(t, h);
            }
            if (!startWithRelu) {
                return h;
            }
            Value skip = shortcut == null ? x : shortcutBn.forward(t, shortcut.forward(t, x));
            return t.g().apply1(new Add(), h, skip);
        }
    }
}
