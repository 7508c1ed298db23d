package org.leanseg.models;

import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.nn.Conv;
import org.leanseg.nn.ConvBNAct;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.shape.Resize;

/**
 * DeepLabV3+ with a MobileNetV2 or Xception-65 backbone, parameters named as PyTorch state_dict
 * keys. An optional auxiliary FCN head (training only, {@code aux.*}) adds deep supervision.
 *
 * <pre>{@code
 * DeepLabV3Plus m = new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_mobilenetv2"));
 * Graph g = new Graph();
 * Value x = g.input("image", TensorSpec.f32(2, 3, 512, 512));
 * Value logits = m.forward(new Trace(g, true), x).logits();
 * }</pre>
 */
public final class DeepLabV3Plus {
    /** Logits at input size, and the aux head's (null when absent or not training). */
    public record Output(Value logits, Value auxLogits) {
    }

    private final ModelConfig config;
    private final ParamSet params = new ParamSet();
    private final MobileNetV2 mobilenet;
    private final Xception65 xception;
    private final Aspp aspp;
    private final Decoder decoder;
    private final ConvBNAct auxConv;
    private final Conv auxClassifier;

    public DeepLabV3Plus(ModelConfig cfg) {
        this.config = cfg;
        int low;
        int high;
        int auxIn;
        if (cfg.backbone() == ModelConfig.Backbone.MOBILENETV2) {
            mobilenet = new MobileNetV2(params, cfg.width(), cfg.outputStride(), cfg.bnEpsBackbone());
            xception = null;
            low = mobilenet.lowChannels();
            high = mobilenet.highChannels();
            auxIn = mobilenet.auxChannels();
        } else {
            xception = new Xception65(params, cfg.width(), cfg.middleRepeats(), cfg.outputStride(), cfg.bnEpsBackbone());
            mobilenet = null;
            low = Xception65.ch(256, cfg.width());
            high = Xception65.ch(2048, cfg.width());
            auxIn = Xception65.ch(728, cfg.width());
        }
        aspp = new Aspp(params, high, cfg.asppChannels(), cfg.atrousRates(), cfg.bnEps());
        decoder = new Decoder(params, low, cfg.lowLevelChannels(), cfg.asppChannels(), cfg.decoderChannels(),
                cfg.numClasses(), cfg.bnEps());
        if (cfg.auxHead()) {
            int c = Math.max(16, auxIn / 4);
            auxConv = new ConvBNAct(params, "aux.conv", auxIn, c, 3, 1, 1, 1, cfg.bnEps(), Activation.relu());
            auxClassifier = new Conv(params, "aux.classifier", c, cfg.numClasses(), 1, 1, 1, 1, true);
        } else {
            auxConv = null;
            auxClassifier = null;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public ParamSet params() {
        return params;
    }

    /** Traces the model on {@code x} [N, 3, H, W]; H and W must be multiples of the output stride for exact alignment. */
    public Output forward(Trace t, Value x) {
        int h = x.spec().shape().dim(2);
        int w = x.spec().shape().dim(3);
        Features f = mobilenet != null ? mobilenet.forward(t, x) : xception.forward(t, x);
        Value logits = decoder.forward(t, f.low(), aspp.forward(t, f.high()), h, w);
        Value aux = null;
        if (auxConv != null && t.training()) {
            Graph g = t.g();
            try (var s = g.scope("aux")) {
                aux = auxClassifier.forward(t, auxConv.forward(t, f.aux()));
                aux = g.apply1(new Resize(h, w, false), aux);
            }
        }
        return new Output(logits, aux);
    }
}
