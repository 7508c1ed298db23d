package org.leanseg.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.leanseg.backend.Backend;
import org.leanseg.config.DataConfig;
import org.leanseg.config.EvalConfig;
import org.leanseg.config.Size2;
import org.leanseg.config.TrainingConfig;
import org.leanseg.eval.MemoryBudget;
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

    @Option(names = "--device", description = "auto, cuda, cpu or reference (overrides the config's device)")
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

    /**
     * What one whole-image inference may plan ({@link MemoryBudget#forInference}):
     * {@code eval.memory_budget}, or the memory {@code backend} could allocate now; null in slide
     * mode, where no whole image is run. Images over it are slid with the training crop, said once
     * through {@code log}.
     */
    static MemoryBudget budget(TrainingConfig cfg, Backend backend, Consumer<String> log) {
        if (cfg.eval().mode() != EvalConfig.Mode.WHOLE) {
            return null;
        }
        DataConfig d = cfg.data();
        Size2 crop = d.type() == DataConfig.Type.SYNTHETIC ? d.synthetic().imageSize() : d.cropSize();
        return MemoryBudget.forInference(cfg.eval().memoryBudget(), backend, crop.height(), crop.width(), log);
    }
}
