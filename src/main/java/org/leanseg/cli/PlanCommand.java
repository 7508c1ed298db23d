package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.PlanFormat;
import org.leanseg.profile.StepPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code leanseg plan}: the memory plan of one training step, before allocating a byte. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Plan the memory of one training step (forward, loss, backward, SGD) without allocating it: "
                + "planned peak, activation arena vs lower bound, bytes saved for backward, per-stage breakdown.")
public final class PlanCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--batch", defaultValue = "2", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--no-fuse", description = "no in-place BN, ReLU·depthwise fusion, in-place ops or cheap-op recompute (A/B)")
    boolean noFuse;

    @Option(names = "--json", description = "print JSON instead of the table")
    boolean json;

    @Override
    public Integer call() {
        int[] hw = modelOptions.size();
        if (batch < 1) {
            System.err.println("--batch must be >= 1, got " + batch);
            return 2;
        }
        ModelConfig cfg = modelOptions.config();
        StepPlan p = StepPlan.of(cfg, batch, hw[0], hw[1], noFuse ? StepPasses.NONE : StepPasses.FUSED);
        System.out.print(json ? PlanFormat.jsonText(p) + "\n" : PlanFormat.table(p));
        return 0;
    }
}
