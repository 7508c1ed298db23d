package org.leanseg.models;

import java.util.Arrays;

/**
 * Everything that defines a DeepLabV3+ model (MODEL_SPEC.md). The oracle files carry the same
 * fields in their {@code model_config} metadata.
 *
 * <pre>{@code
 * ModelConfig full = ModelConfig.of("deeplabv3plus_mobilenetv2").withClasses(21);
 * }</pre>
 */
public record ModelConfig(Backbone backbone, double width, int middleRepeats, int outputStride, int[] atrousRates,
                          int asppChannels, int lowLevelChannels, int decoderChannels, int numClasses,
                          double bnEps, double bnEpsBackbone, boolean auxHead) {
    /** The supported backbones. */
    public enum Backbone {
        MOBILENETV2("deeplabv3plus_mobilenetv2"), XCEPTION65("deeplabv3plus_xception65");

        private final String modelName;

        Backbone(String modelName) {
            this.modelName = modelName;
        }

        public String modelName() {
            return modelName;
        }
    }

    public ModelConfig {
        if (outputStride != 8 && outputStride != 16 && outputStride != 32) {
            throw new IllegalArgumentException("output stride must be 8, 16 or 32, got " + outputStride);
        }
        if (atrousRates.length != 3) {
            throw new IllegalArgumentException("ASPP needs three atrous rates, got " + Arrays.toString(atrousRates));
        }
        if (width <= 0 || numClasses < 1) {
            throw new IllegalArgumentException("width must be > 0 and classes >= 1");
        }
    }

    /** The full-size configuration of a model name (21 classes, OS 16, rates 6/12/18, C/L/D 256/48/256). */
    public static ModelConfig of(String modelName) {
        for (Backbone b : Backbone.values()) {
            if (b.modelName.equals(modelName)) {
                return new ModelConfig(b, 1.0, 16, 16, new int[] {6, 12, 18}, 256, 48, 256, 21, 1e-5,
                        b == Backbone.XCEPTION65 ? 1e-3 : 1e-5, false);
            }
        }
        throw new IllegalArgumentException("unknown model '" + modelName + "'; choose deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65");
    }

    public String name() {
        return backbone.modelName();
    }

    public ModelConfig withWidth(double w) {
        return new ModelConfig(backbone, w, middleRepeats, outputStride, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, numClasses, bnEps, bnEpsBackbone, auxHead);
    }

    public ModelConfig withOutputStride(int os) {
        return new ModelConfig(backbone, width, middleRepeats, os, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, numClasses, bnEps, bnEpsBackbone, auxHead);
    }

    public ModelConfig withClasses(int k) {
        return new ModelConfig(backbone, width, middleRepeats, outputStride, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, k, bnEps, bnEpsBackbone, auxHead);
    }

    public ModelConfig withHead(int[] rates, int aspp, int low, int decoder) {
        return new ModelConfig(backbone, width, middleRepeats, outputStride, rates.clone(), aspp, low, decoder, numClasses,
                bnEps, bnEpsBackbone, auxHead);
    }

    public ModelConfig withMiddleRepeats(int r) {
        return new ModelConfig(backbone, width, r, outputStride, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, numClasses, bnEps, bnEpsBackbone, auxHead);
    }

    public ModelConfig withAuxHead(boolean aux) {
        return new ModelConfig(backbone, width, middleRepeats, outputStride, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, numClasses, bnEps, bnEpsBackbone, aux);
    }

    public ModelConfig withBnEps(double head, double backboneEps) {
        return new ModelConfig(backbone, width, middleRepeats, outputStride, atrousRates, asppChannels, lowLevelChannels,
                decoderChannels, numClasses, head, backboneEps, auxHead);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelConfig m && toString().equals(m.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    @Override
    public String toString() {
        return name() + "(width=" + width + ", os=" + outputStride + ", rates=" + Arrays.toString(atrousRates)
                + ", C/L/D=" + asppChannels + "/" + lowLevelChannels + "/" + decoderChannels + ", classes=" + numClasses
                + (backbone == Backbone.XCEPTION65 ? ", middle=" + middleRepeats : "") + ", bnEps=" + bnEps + "/" + bnEpsBackbone
                + (auxHead ? ", aux" : "") + ")";
    }
}
