package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.leanseg.config.DataConfig;
import org.leanseg.config.Size2;
import org.leanseg.config.TrainingConfig;
import org.leanseg.infer.ModelInference;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.models.ModelConfig;
import org.leanseg.models.ModelConfigJson;
import org.leanseg.train.Datasets;
import picocli.CommandLine.Option;

/**
 * The model and input options shared by {@code summary}, {@code plan} and {@code profile} (a picocli
 * mixin): a model by name and flags, or the model a user trained, from {@code --config} (a
 * training YAML; its crop is the default size) or {@code --checkpoint} (its metadata, else its
 * tensor shapes, {@link ModelInference}). Flags given as well override single fields.
 */
final class ModelOptions {
    private static final String DEFAULT_MODEL = "deeplabv3plus_mobilenetv2";
    private static final String DEFAULT_SIZE = "512x512";

    @Option(names = "--model", description = "deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65 (default: " + DEFAULT_MODEL + ")")
    String model;

    @Option(names = "--config", description = "the model (and, as the default --size, the crop) of a training config YAML")
    Path config;

    @Option(names = "--checkpoint", description = "the model of a weights file: its LeanSeg metadata, else inferred from its tensor shapes")
    Path checkpoint;

    @Option(names = "--width", description = "backbone width multiplier (default 1.0)")
    Double width;

    @Option(names = "--output-stride", description = "8 or 16 (default 16)")
    Integer outputStride;

    @Option(names = "--classes", description = "number of classes (default 21)")
    Integer classes;

    @Option(names = "--aspp-channels", description = "channels of each ASPP branch (default 256)")
    Integer asppChannels;

    @Option(names = "--low-level-channels", description = "channels of the decoder's low-level projection (default 48)")
    Integer lowLevelChannels;

    @Option(names = "--decoder-channels", description = "channels of the decoder's 3x3 convs (default 256)")
    Integer decoderChannels;

    @Option(names = "--atrous-rates", split = ",", description = "the three ASPP dilation rates, e.g. 6,12,18 (default)")
    List<Integer> atrousRates;

    @Option(names = "--size", description = "input HxW (default " + DEFAULT_SIZE + ", or the --config crop)")
    String size;

    @Option(names = "--aux-head", description = "include the auxiliary FCN head")
    boolean aux;

    private String note;

    /**
     * The configuration these options name.
     *
     * @throws IllegalArgumentException one line naming the flag (or file) and the values allowed
     */
    ModelConfig config() {
        if ((config != null ? 1 : 0) + (checkpoint != null ? 1 : 0) + (model != null ? 1 : 0) > 1) {
            throw new IllegalArgumentException("give one of --model, --config and --checkpoint");
        }
        ModelConfig cfg = base();
        if (width != null) {
            require(width > 0 && width <= 4, "--width " + width + ": must be in (0, 4], e.g. 0.5 or 1.0");
            cfg = cfg.withWidth(width);
        }
        if (outputStride != null) {
            require(outputStride == 8 || outputStride == 16, "--output-stride " + outputStride + ": must be 8 or 16");
            cfg = cfg.withOutputStride(outputStride);
        }
        if (classes != null) {
            require(classes >= 1, "--classes " + classes + ": must be at least 1");
            cfg = cfg.withClasses(classes);
        }
        int[] rates = cfg.atrousRates();
        if (atrousRates != null) {
            require(atrousRates.size() == 3 && atrousRates.stream().allMatch(r -> r >= 1),
                    "--atrous-rates " + atrousRates + ": must be three rates >= 1, e.g. 6,12,18");
            rates = atrousRates.stream().mapToInt(Integer::intValue).toArray();
        }
        int c = channels(asppChannels, cfg.asppChannels(), "--aspp-channels");
        int l = channels(lowLevelChannels, cfg.lowLevelChannels(), "--low-level-channels");
        int d = channels(decoderChannels, cfg.decoderChannels(), "--decoder-channels");
        cfg = cfg.withHead(rates, c, l, d);
        return aux ? cfg.withAuxHead(true) : cfg;
    }

    /** What was inferred about a --checkpoint without metadata (one line), or null. */
    String note() {
        return note;
    }

    private ModelConfig base() {
        if (config != null) {
            return Datasets.modelConfig(TrainingConfig.load(config, List.of()));
        }
        if (checkpoint != null) {
            try (SafetensorsFile f = SafetensorsFile.open(checkpoint)) {
                String meta = f.metadata().get("model_config");
                if (meta != null) {
                    return ModelConfigJson.parse(meta, f.metadata().get("batchnorm"))
                            .withAuxHead(f.keys().stream().anyMatch(k -> k.startsWith("aux.")));
                }
                ModelInference.Inferred inferred = ModelInference.of(f);
                note = inferred.line();
                return inferred.config();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        String name = model != null ? model : DEFAULT_MODEL;
        try {
            return ModelConfig.of(name);
        } catch (IllegalArgumentException unknown) {
            throw new IllegalArgumentException("--model " + name + ": unknown; choose deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65");
        }
    }

    private static int channels(Integer given, int otherwise, String flag) {
        if (given == null) {
            return otherwise;
        }
        require(given >= 1, flag + " " + given + ": must be at least 1");
        return given;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** {height, width} of {@code --size}; with --config and no --size, its training crop. */
    int[] size() {
        if (size == null && config != null) {
            DataConfig d = TrainingConfig.load(config, List.of()).data();
            Size2 crop = d.type() == DataConfig.Type.SYNTHETIC ? d.synthetic().imageSize() : d.cropSize();
            return new int[] {crop.height(), crop.width()};
        }
        return Sizes.parse(size != null ? size : DEFAULT_SIZE, "--size");
    }
}
