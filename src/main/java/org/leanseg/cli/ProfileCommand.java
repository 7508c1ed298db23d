package org.leanseg.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.io.AtomicFiles;
import org.leanseg.memory.recompute.BudgetException;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.Profile;
import org.leanseg.profile.ProfileHtml;
import org.leanseg.profile.ProfileReport;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import org.leanseg.tensor.Precision;
import picocli.CommandLine.Option;

/**
 * {@code leanseg profile}: runs a few real training steps of the planned step on the chosen device
 * ({@code --device auto|cpu|cuda}, as {@code train}) and writes {@code report.html} and {@code report.json}, with the per-stage summary on the
 * terminal. The step is built by {@link StepPlan} under the recompute policy of {@code --recompute}
 * (as {@code leanseg plan} has it); the reports name the policy and its recompute FLOPs.
 *
 * <pre>{@code
 * leanseg profile --model deeplabv3plus_mobilenetv2 --batch 2 --size 256x256 --steps 2 [--recompute stages]
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProfileCommandTest}.
 */
@Command(name = "profile", mixinStandardHelpOptions = true,
        description = "Run N real training steps (random images and labels, --device auto|cpu|cuda) and report where the memory goes: "
                + "per stage at the planned peak (activations, gradients, weights, optimizer state, workspace), planned against "
                + "measured high-water, step time; writes report.html (charts) and report.json.")
public final class ProfileCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    DistillOptions distillOptions;

    @Option(names = "--batch", defaultValue = "2", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--steps", defaultValue = "2", description = "training steps to run and time (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--no-fuse", description = "no in-place BN, ReLU·depthwise fusion or cheap-op recompute (A/B); "
            + "ops that may write over their input still do, as train runs them")
    boolean noFuse;

    @Option(names = "--recompute", converter = RecomputeConverter.class,
            description = "recompute policy: none, stages, sqrt, auto:<bytes> (e.g. auto:6GiB; exact) or auto-greedy:<bytes> (default: none)")
    RecomputePolicy recompute;

    @Option(names = "--precision", converter = PrecisionConverter.class, defaultValue = "fp32", description = PrecisionConverter.DESCRIPTION)
    Precision precision;

    @Option(names = "--out", description = "report directory (default: work_dirs/profile/<model>_b<B>_<H>x<W>)")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the weights and the random batches (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cuda, cpu or reference (default: ${DEFAULT-VALUE}: CUDA when usable, "
            + "else the CPU with the reason); on CUDA the report adds the device memory the run took (cudaMemGetInfo)")
    String device;

    @Override
    public Integer call() throws IOException {
        int[] hw = modelOptions.size();
        if (batch < 1 || steps < 1) {
            System.err.println("--batch and --steps must be >= 1, got " + batch + " and " + steps);
            return 2;
        }
        ModelConfig cfg = modelOptions.config();
        org.leanseg.train.Distillation distill = distillOptions.distillation(cfg);
        if (distill != null && precision != Precision.FP32) {
            System.err.println("leanseg profile: --teacher: " + org.leanseg.train.TrainGraph.DISTILL_FP32_ONLY);
            return 2;
        }
        if (modelOptions.note() != null) {
            System.err.println(modelOptions.note());
        }
        Path dir = out != null ? out : Path.of("work_dirs", "profile", cfg.name() + "_b" + batch + "_" + hw[0] + "x" + hw[1]);
        RecomputePolicy policy = recompute == null ? RecomputePolicy.none() : recompute;
        Backends.Choice choice;
        try {
            choice = Backends.create(device);
        } catch (IllegalArgumentException | IllegalStateException e) {
            CliErrors.print(System.err, "leanseg profile: ", e);
            return 2;
        }
        if (PrecisionConverter.unsupported(choice.backend().name(), precision) != null) {
            System.err.println("leanseg profile: " + PrecisionConverter.unsupported(choice.backend().name(), precision));
            choice.backend().close();
            return 2;
        }
        System.out.println(choice.line());
        Profile p;
        try (Backend backend = choice.backend()) {
            // the step the trainer runs on this backend (StepProfiler.trainerPlan), or the unfused one with --no-fuse
            StepPlan plan;
            try {
                plan = noFuse ? StepPlan.of(cfg, batch, hw[0], hw[1], StepPasses.NONE.withRecompute(policy),
                                org.leanseg.train.OptimizerSettings.pytorchDefault(), 1, org.leanseg.ops.Device.of(backend), precision,
                                distill)
                        : StepProfiler.trainerPlan(cfg, batch, hw[0], hw[1], backend, policy, precision, distill);
            } catch (BudgetException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            System.out.printf("planned %d ops in %d ms (recompute %s, precision %s); running %d step%s...%n", plan.schedule().size(),
                    plan.planMillis(), policy, precision, steps, steps == 1 ? "" : "s");
            p = StepProfiler.run(plan, backend, steps, seed);
        }
        java.nio.file.Files.createDirectories(dir);
        AtomicFiles.write(dir.resolve("report.json"), (ProfileReport.jsonText(p) + "\n").getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve("report.html"), ProfileHtml.page(p).getBytes(StandardCharsets.UTF_8));
        System.out.print(ProfileReport.summary(p));
        System.out.println("\nwrote " + dir.resolve("report.html") + " and " + dir.resolve("report.json"));
        return 0;
    }
}
