package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.leanseg.config.ConfigDiff;
import org.leanseg.config.TrainingConfig;
import org.leanseg.train.Checkpoints;

/**
 * The config {@code eval}, {@code predict} and {@code benchmark} use: {@code --config} when given;
 * else the run's own, saved in the checkpoint's metadata or as config.yaml beside it (so a model
 * trained on a folder dataset is evaluated on that dataset, not the synthetic default); else the
 * defaults. {@code --set} and the flags apply on top; which source, and each key the flags
 * change, is said in one line.
 */
final class RunConfigs {
    private RunConfigs() {
    }

    static TrainingConfig load(InferenceOptions opts, Consumer<String> say) {
        if (opts.config != null || opts.checkpoint == null) {
            return opts.load();
        }
        String saved = null;
        String source = null;
        try {
            if (Files.isRegularFile(opts.checkpoint)) {
                saved = Checkpoints.savedConfig(opts.checkpoint);
                source = opts.checkpoint + " (its saved config)";
            }
            Path beside = opts.checkpoint.toAbsolutePath().resolveSibling("config.yaml");
            if (saved == null && Files.isRegularFile(beside)) {
                saved = Files.readString(beside);
                source = beside.toString();
            }
        } catch (IOException unreadable) {
            return opts.load(); // the checkpoint's own error comes when it is loaded
        }
        if (saved == null) {
            say.accept("config: the defaults (" + opts.checkpoint + " carries no config and has no config.yaml beside it; give --config)");
            return opts.load();
        }
        TrainingConfig original = TrainingConfig.parse(saved, source, List.of());
        TrainingConfig cfg = TrainingConfig.parse(saved, source, sets(opts));
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
