package org.leanseg.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code java -jar leanseg.jar}: one subcommand per file in this package. Every
 * failure is one line {@code leanseg <command>: ...} and exit code 2 ({@link CliErrors}).
 */
@Command(name = "leanseg", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
        description = "Memory-planned semantic-segmentation training on one GPU (or the CPU).",
        subcommands = {VersionCommand.class, OpsCommand.class, SummaryCommand.class, TrainCommand.class, EvalCommand.class, PredictCommand.class, BenchmarkCommand.class, BenchStepCommand.class, PlanCommand.class, ProfileCommand.class,
                ConvertLabelmeCommand.class, ExportCommand.class, QuantizeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        return CliErrors.install(new CommandLine(new Main())).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
