package org.leanseg.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.leanseg.config.TrainingConfig;
import picocli.CommandLine.Option;

/**
 * The options {@code eval}, {@code predict} and {@code benchmark} share: config, overrides,
 * checkpoint, mode, flip, scales, device (a picocli mixin).
 */
final class InferenceOptions {
    @Option(names = "--config", description = "YAML config file (the model comes from the checkpoint)")
    Path config;

    @Option(names = "--set", description = "override a key, e.g. --set eval.mode=slide (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--checkpoint", required = true, description = "weights (.safetensors)")
    Path checkpoint;

    @Option(names = "--mode", description = "whole or slide (overrides eval.mode)")
    String mode;

    @Option(names = "--flip", description = "average with the horizontally flipped image")
    boolean flip;

    @Option(names = "--scales", description = "image scale factors whose logits are averaged, e.g. 0.75,1.0,1.25 "
            + "(overrides eval.scales; default 1.0)")
    String scales;

    @Option(names = "--device", description = "auto, cpu or cuda (overrides the config's device)")
    String device;

    /** The configuration with --set, --device, --mode and --scales applied; throws ConfigException naming a bad key. */
    TrainingConfig load() {
        List<String> sets = new ArrayList<>(overrides);
        if (device != null) {
            sets.add("device=" + device);
        }
        if (mode != null) {
            sets.add("eval.mode=" + mode);
        }
        if (scales != null) {
            sets.add("eval.scales=[" + scales + "]");
        }
        return TrainingConfig.load(config, sets);
    }
}
