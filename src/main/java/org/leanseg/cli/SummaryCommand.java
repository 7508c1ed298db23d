package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.ModelSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code leanseg summary}: layer table with output shapes, parameters and MACs. */
@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Print a model's layers with output shapes, parameters and MACs, and the totals.")
public final class SummaryCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--all", description = "list every op, not only those with parameters or MACs")
    boolean all;

    @Override
    public Integer call() {
        int[] hw = modelOptions.size();
        ModelConfig cfg = modelOptions.config();
        if (modelOptions.note() != null) {
            System.out.println(modelOptions.note());
        }
        DeepLabV3Plus m = new DeepLabV3Plus(cfg);
        System.out.println(cfg + " at 1x3x" + hw[0] + "x" + hw[1]);
        System.out.print(new ModelSummary(m, 1, hw[0], hw[1]).format(all));
        return 0;
    }
}
