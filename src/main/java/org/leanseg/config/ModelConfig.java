package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;
import java.util.Locale;

/**
 * {@code model:} section: which DeepLabV3+ network and its sizes (see shared/MODEL_SPEC.md).
 *
 * <pre>{@code
 * ModelConfig m = TrainingConfig.load(null, List.of("model.width=1.0")).model();
 * int os = m.outputStride();   // 16
 * }</pre>
 *
 * @param name network: {@code deeplabv3plus_mobilenetv2} or {@code deeplabv3plus_xception65}
 * @param width channel multiplier of the backbone (torchvision's width_mult)
 * @param outputStride 8 or 16: input size / high-level feature size
 * @param numClasses classifier outputs; follows {@code data.num_classes} unless set
 * @param asppChannels channels of every ASPP branch and its projection
 * @param lowLevelChannels channels of the decoder's low-level projection
 * @param decoderChannels channels of the decoder's two 3x3 convs
 * @param atrousRates dilation rates of the 3x3 ASPP branches
 * @param auxHead whether to add an auxiliary FCN head on the backbone features (training only)
 */
public record ModelConfig(Architecture name, double width, int outputStride, int numClasses, int asppChannels,
        int lowLevelChannels, int decoderChannels, List<Integer> atrousRates, boolean auxHead) {

    /** Network families, spelled in YAML as their lower-case names. */
    public enum Architecture {
        DEEPLABV3PLUS_MOBILENETV2, DEEPLABV3PLUS_XCEPTION65;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public ModelConfig {
        atrousRates = List.copyOf(atrousRates);
    }

    /**
     * A small MobileNetV2 DeepLabV3+ that trains on the 48x48 synthetic set on a 2-core CPU in
     * minutes. ASPP rates 2, 4, 6 (DeepLab's 6, 12, 18 are for 33x33 maps at 513 px); on the 3x3
     * stride-16 map of a 48x48 image the outer taps of rates 4 and 6 see only padding, and the
     * convolution kernels skip them. (48x48 rather than 32x32: measured 2026-12-07, the same recipe
     * reached val mIoU 78.3% after 5,000 of 8,000 iterations at 48x48 against 66.3% at 32x32, for
     * 1.4x the step time; docs/benchmarks.md.)
     */
    static ModelConfig defaults() {
        return new ModelConfig(Architecture.DEEPLABV3PLUS_MOBILENETV2, 0.5, 16, DataConfig.defaults().numClasses(),
                64, 24, 64, List.of(2, 4, 6), false);
    }

    static ModelConfig read(ConfigTree t) {
        int outputStride = t.integer("model.output_stride", 1, Integer.MAX_VALUE);
        if (outputStride != 8 && outputStride != 16) {
            throw t.bad("model.output_stride", outputStride + " is not one of 8, 16");
        }
        return new ModelConfig(
                t.choice("model.name", Architecture.class),
                t.real("model.width", 0, true, 4),
                outputStride,
                t.integer("model.num_classes", 1, 255),
                t.integer("model.aspp_channels", 1, 1 << 16),
                t.integer("model.low_level_channels", 1, 1 << 16),
                t.integer("model.decoder_channels", 1, 1 << 16),
                t.positiveIntList("model.atrous_rates"),
                t.bool("model.aux_head"));
    }
}
