package org.leanseg.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.DatasetException;
import org.leanseg.train.Checkpoints;
import org.leanseg.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code leanseg train}: with no arguments trains a small DeepLabV3+ MobileNetV2 on the built-in
 * synthetic shapes on the CPU; {@code --config} and {@code --set} change anything.
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
            description = "continue a run: a checkpoint file, or (no value) the newest in the run directory")
    String resume;

    @Option(names = "--load-from", description = "initialise the weights from a safetensors file (fine-tuning)")
    Path loadFrom;

    @Option(names = "--strict", description = "with --load-from: any missing, unexpected or mismatched key is an error")
    boolean strict;

    @Option(names = "--device", description = "auto, cuda, cpu or reference (overrides the config's device)")
    String device;

    @Override
    public Integer call() throws Exception {
        TrainingConfig cfg;
        try {
            List<String> sets = new ArrayList<>(overrides);
            if (device != null) {
                sets.add("device=" + device);
            }
            cfg = TrainingConfig.load(config, sets);
        } catch (ConfigException e) {
            System.err.println("leanseg train: " + e.getMessage());
            return 2;
        }
        if (printConfig) {
            System.out.print(cfg.toYaml());
            return 0;
        }
        if (cfg.train().threads() > 0) {
            System.setProperty("leanseg.threads", Integer.toString(cfg.train().threads()));
        }
        Path resumeFrom = null;
        if (resume != null) {
            resumeFrom = "auto".equals(resume) ? Checkpoints.latest(cfg.runDir()) : Path.of(resume);
            if (resumeFrom == null) {
                System.err.println("leanseg train: --resume: no checkpoint in " + cfg.runDir() + " (no last_checkpoint file); "
                        + "start without --resume or give a checkpoint file");
                return 2;
            }
        }
        try {
            Trainer.Result r = new Trainer(cfg, System.out, System.console() != null).run(resumeFrom, loadFrom, strict);
            System.out.printf("done: %d iterations, last mIoU %.4f, best mIoU %.4f; run directory %s%n",
                    r.iters(), r.lastMIoU(), r.bestMIoU(), r.runDir());
            return 0;
        } catch (ConfigException | DatasetException | java.io.IOException | IllegalStateException e) {
            System.err.println("leanseg train: " + e.getMessage());
            return 2;
        }
    }
}
