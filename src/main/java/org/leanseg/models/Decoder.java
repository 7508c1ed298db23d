package org.leanseg.models;

import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.nn.Conv;
import org.leanseg.nn.ConvBNAct;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.Resize;

/** DeepLabV3+ decoder (MODEL_SPEC.md): low_proj, upsample ASPP, concat [low, aspp], two 3x3 fuse convs, classifier. */
public final class Decoder {
    private final ConvBNAct lowProj;
    private final ConvBNAct fuse0;
    private final ConvBNAct fuse1;
    private final Conv classifier;

    public Decoder(ParamSet ps, int lowIn, int low, int aspp, int d, int classes, double eps) {
        lowProj = new ConvBNAct(ps, "decoder.low_proj", lowIn, low, 1, 1, 1, 1, eps, Activation.relu());
        fuse0 = new ConvBNAct(ps, "decoder.fuse.0", low + aspp, d, 3, 1, 1, 1, eps, Activation.relu());
        fuse1 = new ConvBNAct(ps, "decoder.fuse.1", d, d, 3, 1, 1, 1, eps, Activation.relu());
        classifier = new Conv(ps, "decoder.classifier", d, classes, 1, 1, 1, 1, true);
    }

    /** Logits at the input's H x W. */
    public Value forward(Trace t, Value lowFeatures, Value asppOut, int outH, int outW) {
        Graph g = t.g();
        try (var s = g.scope("decoder")) {
            Value low = lowProj.forward(t, lowFeatures);
            int h = low.spec().shape().dim(2);
            int w = low.spec().shape().dim(3);
            Value up = g.apply1(new Resize(h, w, false), asppOut);
            Value y = fuse1.forward(t, fuse0.forward(t, g.apply1(new Concat(), low, up)));
            y = classifier.forward(t, y);
            return g.apply1(new Resize(outH, outW, false), y);
        }
    }
}
