package org.leanseg.cli;

import org.leanseg.models.ModelConfig;
import picocli.CommandLine.Option;

/** The model and input options shared by {@code summary}, {@code plan} and {@code profile} (a picocli mixin). */
final class ModelOptions {
    @Option(names = "--model", defaultValue = "deeplabv3plus_mobilenetv2",
            description = "deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65 (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--width", description = "backbone width multiplier (default 1.0)")
    Double width;

    @Option(names = "--output-stride", defaultValue = "16", description = "8 or 16 (default: ${DEFAULT-VALUE})")
    int outputStride;

    @Option(names = "--classes", defaultValue = "21", description = "number of classes (default: ${DEFAULT-VALUE})")
    int classes;

    @Option(names = "--size", defaultValue = "512x512", description = "input HxW (default: ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--aux-head", description = "include the auxiliary FCN head")
    boolean aux;

    /** The configuration these options name. */
    ModelConfig config() {
        ModelConfig cfg = ModelConfig.of(model).withOutputStride(outputStride).withClasses(classes).withAuxHead(aux);
        return width != null ? cfg.withWidth(width) : cfg;
    }

    /** {height, width} of {@code --size}. */
    int[] size() {
        return Sizes.parse(size, "--size");
    }
}
