package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.leanseg.config.ConfigDiff;
import org.leanseg.config.TrainingConfig;
import org.leanseg.train.Checkpoints;

/**
 * The config {@code eval}, {@code predict}, {@code benchmark}, {@code export} and {@code quantize} use: {@code --config} when given;
 * else the run's own, saved in the checkpoint's metadata or as config.yaml beside it (so a model
 * trained on a folder dataset is evaluated on that dataset, not the synthetic default); else the
 * defaults. {@code --set} and the flags apply on top; which source, and each key the flags
 * change, is said in one line.
 */
final class RunConfigs {
    private RunConfigs() {
    }

    static TrainingConfig load(InferenceOptions opts, Consumer<String> say) {
        return load(opts.config, opts.checkpoint, sets(opts), opts::load, say);
    }

    /**
     * The same for any command that reads a checkpoint ({@code export}, {@code quantize}): {@code sets}
     * on top of the run's own config, or {@code fallback} when {@code --config} is given, there is
     * no checkpoint, or it carries no config.
     */
    static TrainingConfig load(Path config, Path checkpoint, List<String> sets, Supplier<TrainingConfig> fallback,
                               Consumer<String> say) {
        if (config != null || checkpoint == null) {
            return fallback.get();
        }
        String saved = null;
        String source = null;
        try {
            if (Files.isRegularFile(checkpoint)) {
                saved = Checkpoints.savedConfig(checkpoint);
                source = checkpoint + " (its saved config)";
            }
            Path beside = checkpoint.toAbsolutePath().resolveSibling("config.yaml");
            if (saved == null && Files.isRegularFile(beside)) {
                saved = Files.readString(beside);
                source = beside.toString();
            }
        } catch (IOException unreadable) {
            return fallback.get(); // the checkpoint's own error comes when it is loaded
        }
        if (saved == null) {
            say.accept("config: the defaults (" + checkpoint + " carries no config and has no config.yaml beside it; give --config)");
            return fallback.get();
        }
        TrainingConfig original = TrainingConfig.parse(saved, source, List.of());
        TrainingConfig cfg = TrainingConfig.parse(saved, source, sets);
        List<String> changed = ConfigDiff.between(original, cfg);
        say.accept("config: the run's own, from " + source + (changed.isEmpty() ? "" : "; overriding " + String.join(", ", changed)));
        return cfg;
    }

    /** The --set overrides and the flags, as InferenceOptions#load applies them. */
    private static List<String> sets(InferenceOptions opts) {
        List<String> sets = new ArrayList<>(opts.overrides);
        if (opts.device != null) {
            sets.add("device=" + opts.device);
        }
        if (opts.mode != null) {
            sets.add("eval.mode=" + opts.mode);
        }
        if (opts.scales != null) {
            sets.add("eval.scales=[" + opts.scales + "]");
        }
        return sets;
    }
}
