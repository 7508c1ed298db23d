package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.ModelSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code leanseg summary}: layer table with output shapes, parameters and MACs. */
@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Print a model's layers with output shapes, parameters and MACs, and the totals.")
public final class SummaryCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "deeplabv3plus_mobilenetv2",
            description = "deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65 (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--width", description = "backbone width multiplier (default 1.0)")
    Double width;

    @Option(names = "--output-stride", defaultValue = "16", description = "8 or 16 (default: ${DEFAULT-VALUE})")
    int outputStride;

    @Option(names = "--classes", defaultValue = "21", description = "number of classes (default: ${DEFAULT-VALUE})")
    int classes;

    @Option(names = "--size", defaultValue = "512x512", description = "input HxW (default: ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--aux-head", description = "include the auxiliary FCN head")
    boolean aux;

    @Option(names = "--all", description = "list every op, not only those with parameters or MACs")
    boolean all;

    @Override
    public Integer call() {
        int[] hw = Sizes.parse(size, "--size");
        ModelConfig cfg = ModelConfig.of(model).withOutputStride(outputStride).withClasses(classes).withAuxHead(aux);
        if (width != null) {
            cfg = cfg.withWidth(width);
        }
        DeepLabV3Plus m = new DeepLabV3Plus(cfg);
        System.out.println(cfg + " at 1x3x" + hw[0] + "x" + hw[1]);
        System.out.print(new ModelSummary(m, 1, hw[0], hw[1]).format(all));
        return 0;
    }
}
