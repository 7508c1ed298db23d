package org.leanseg.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.leanseg.config.ConfigDiff;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.DatasetException;
import org.leanseg.train.Checkpoints;
import org.leanseg.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code leanseg train}: with no arguments trains a small DeepLabV3+ MobileNetV2 on the built-in
 * synthetic shapes on the CPU; {@code --config} and {@code --set} change anything. {@code --resume}
 * continues from the run's own config (saved in the checkpoint) and says which keys it overrides.
 * The first Ctrl-C or SIGTERM finishes the step, saves a checkpoint and exits 130 or 143; a
 * second exits at once ({@link StopSignals}).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a model (no arguments: the built-in synthetic dataset on the CPU).")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "YAML config file (see --print-config for every key)")
    Path config;

    @Option(names = "--set", description = "override a key, e.g. --set train.iters=200 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--print-config", description = "print the resolved config and exit")
    boolean printConfig;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "auto",
            description = "continue a run: a checkpoint file, a run directory, or (no value) the newest checkpoint that verifies "
                    + "in the run directory; the run's saved config is used, --config/--set override it")
    String resume;

    @Option(names = "--overwrite", description = "start afresh where a run directory already holds a run: the old run is moved "
            + "aside to <dir>.old-<time>, nothing deleted")
    boolean overwrite;

    @Option(names = "--load-from", description = "initialise the weights from a safetensors file (fine-tuning)")
    Path loadFrom;

    @Option(names = "--strict", description = "with --load-from: any missing, unexpected or mismatched key is an error")
    boolean strict;

    @Option(names = "--device", description = "auto, cuda, cpu or reference (overrides the config's device)")
    String device;

    @Override
    public Integer call() {
        try {
            List<String> sets = new ArrayList<>(overrides);
            if (device != null) {
                sets.add("device=" + device);
            }
            TrainingConfig cfg = TrainingConfig.load(config, sets);
            if (printConfig && resume == null) {
                System.out.print(cfg.toYaml());
                return 0;
            }
            List<String> notes = new ArrayList<>();
            Path resumeFrom = null;
            if (resume != null) {
                Path where = "auto".equals(resume) ? cfg.runDir() : Path.of(resume);
                resumeFrom = Files.isDirectory(where) ? Checkpoints.latest(where, w -> notes.add("warning: " + w)) : where;
                if (resumeFrom == null) {
                    throw new ConfigException("--resume: no checkpoint that verifies in " + where
                            + (notes.isEmpty() ? " (none saved yet)" : " (" + String.join("; ", notes) + ")")
                            + "; start without --resume, or give a checkpoint file");
                }
                Checkpoints.verify(resumeFrom);
                cfg = runConfig(resumeFrom, sets, cfg, notes);
                if (printConfig) {
                    System.out.print(cfg.toYaml());
                    return 0;
                }
            }
            if (cfg.train().threads() > 0) {
                System.setProperty("leanseg.threads", Integer.toString(cfg.train().threads()));
            }
            Trainer trainer = new Trainer(cfg, System.out, System.console() != null).overwrite(overwrite);
            notes.forEach(trainer::note);
            Trainer.Result r;
            try (StopSignals signals = StopSignals.install(trainer::requestStop)) {
                r = trainer.run(resumeFrom, loadFrom, strict);
            }
            return r.stoppedBy() == null ? 0 : StopSignals.exitCode(r.stoppedBy());
        } catch (ConfigException | DatasetException | java.io.IOException | IllegalStateException | IllegalArgumentException
                 | java.io.UncheckedIOException e) {
            CliErrors.print(System.err, "leanseg train: ", e);
            return CliErrors.USAGE;
        }
    }

    /**
     * The config a resumed run uses: the one saved in the checkpoint (else the run directory's
     * config.yaml), with {@code --config} (when given) instead and {@code --set} on top; each key
     * that differs from the saved config becomes a note.
     */
    private TrainingConfig runConfig(Path checkpoint, List<String> sets, TrainingConfig given, List<String> notes) throws java.io.IOException {
        String saved = Checkpoints.savedConfig(checkpoint);
        String source = checkpoint + " (its saved config)";
        Path beside = checkpoint.toAbsolutePath().resolveSibling("config.yaml");
        if (saved == null && Files.isRegularFile(beside)) {
            saved = Files.readString(beside);
            source = beside.toString();
        }
        if (saved == null) {
            notes.add("resume: " + checkpoint + " carries no config; using the one given on the command line");
            return given;
        }
        TrainingConfig original = TrainingConfig.parse(saved, source, List.of());
        TrainingConfig cfg = config != null ? given : TrainingConfig.parse(saved, source, sets);
        List<String> changed = ConfigDiff.between(original, cfg);
        notes.add("resume: the run's config from " + source + (changed.isEmpty() ? ", unchanged"
                : ", overriding " + String.join(", ", changed)));
        return cfg;
    }
}
