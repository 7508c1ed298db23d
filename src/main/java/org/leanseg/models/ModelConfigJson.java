package org.leanseg.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * {@link ModelConfig} to and from the JSON the oracle files and checkpoints carry
 * ({@code model_config}: backbone, width_mult, middle_repeats, num_classes, output_stride,
 * atrous_rates, aspp_channels, low_level_channels, decoder_channels; BN eps from {@code batchnorm}).
 */
public final class ModelConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelConfigJson() {
    }

    /** Parses {@code model_config} and the optional {@code batchnorm} JSON strings. */
    public static ModelConfig parse(String modelConfig, String batchnorm) {
        try {
            JsonNode m = JSON.readTree(modelConfig);
            String backbone = m.path("backbone").asText("mobilenetv2").toLowerCase();
            ModelConfig.Backbone b = switch (backbone) {
                case "mobilenetv2", "mobilenet_v2", "" -> ModelConfig.Backbone.MOBILENETV2;
                case "xception65", "xception" -> ModelConfig.Backbone.XCEPTION65;
                default -> throw new IllegalArgumentException("model_config.backbone: unknown backbone '" + backbone
                        + "'; expected mobilenetv2 or xception65");
            };
            ModelConfig c = ModelConfig.of(b.modelName());
            int[] rates = c.atrousRates();
            if (m.has("atrous_rates")) {
                JsonNode r = m.get("atrous_rates");
                rates = new int[r.size()];
                for (int i = 0; i < rates.length; i++) {
                    rates[i] = r.get(i).asInt();
                }
            }
            c = c.withWidth(m.path("width_mult").asDouble(c.width()))
                    .withMiddleRepeats(m.path("middle_repeats").asInt(c.middleRepeats()))
                    .withOutputStride(m.path("output_stride").asInt(c.outputStride()))
                    .withClasses(m.path("num_classes").asInt(c.numClasses()))
                    .withHead(rates, m.path("aspp_channels").asInt(c.asppChannels()),
                            m.path("low_level_channels").asInt(c.lowLevelChannels()),
                            m.path("decoder_channels").asInt(c.decoderChannels()));
            if (batchnorm != null) {
                JsonNode bn = JSON.readTree(batchnorm);
                double eps = bn.path("eps").asDouble(c.bnEps());
                c = c.withBnEps(eps, bn.path("eps_backbone").asDouble(b == ModelConfig.Backbone.XCEPTION65 ? c.bnEpsBackbone() : eps));
            }
            return c;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("model_config is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** The JSON form of {@code c} (same keys as {@link #parse}). */
    public static String model(ModelConfig c) {
        ObjectNode m = JSON.createObjectNode();
        m.put("backbone", c.backbone() == ModelConfig.Backbone.XCEPTION65 ? "xception65" : "mobilenetv2");
        m.put("width_mult", c.width());
        m.put("middle_repeats", c.middleRepeats());
        m.put("num_classes", c.numClasses());
        m.put("output_stride", c.outputStride());
        var r = m.putArray("atrous_rates");
        for (int x : c.atrousRates()) {
            r.add(x);
        }
        m.put("aspp_channels", c.asppChannels());
        m.put("low_level_channels", c.lowLevelChannels());
        m.put("decoder_channels", c.decoderChannels());
        m.put("aux_head", c.auxHead());
        return m.toString();
    }

    public static String batchnorm(ModelConfig c) {
        ObjectNode bn = JSON.createObjectNode();
        bn.put("eps", c.bnEps());
        bn.put("eps_backbone", c.bnEpsBackbone());
        bn.put("momentum", 0.1);
        return bn.toString();
    }
}
