package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.PlanFormat;
import org.leanseg.profile.StepPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code leanseg plan}: the memory plan of one training step, before allocating a byte. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Plan the memory of one training step (forward, loss, backward, SGD) without allocating it: "
                + "planned peak, activation arena vs lower bound, bytes saved for backward, per-stage breakdown.")
public final class PlanCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "deeplabv3plus_mobilenetv2",
            description = "deeplabv3plus_mobilenetv2 or deeplabv3plus_xception65 (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--batch", defaultValue = "2", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--size", defaultValue = "512x512", description = "input HxW (default: ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--width", description = "backbone width multiplier (default 1.0)")
    Double width;

    @Option(names = "--classes", defaultValue = "21", description = "number of classes (default: ${DEFAULT-VALUE})")
    int classes;

    @Option(names = "--output-stride", defaultValue = "16", description = "8 or 16 (default: ${DEFAULT-VALUE})")
    int outputStride;

    @Option(names = "--aux-head", description = "include the auxiliary FCN head")
    boolean aux;

    @Option(names = "--no-fuse", description = "no in-place BN, ReLU·depthwise fusion, in-place ops or cheap-op recompute (A/B)")
    boolean noFuse;

    @Option(names = "--json", description = "print JSON instead of the table")
    boolean json;

    @Override
    public Integer call() {
        int[] hw = Sizes.parse(size, "--size");
        if (batch < 1) {
            System.err.println("--batch must be >= 1, got " + batch);
            return 2;
        }
        ModelConfig cfg = ModelConfig.of(model).withOutputStride(outputStride).withClasses(classes).withAuxHead(aux);
        if (width != null) {
            cfg = cfg.withWidth(width);
        }
        StepPlan p = StepPlan.of(cfg, batch, hw[0], hw[1], noFuse ? StepPasses.NONE : StepPasses.FUSED);
        System.out.print(json ? PlanFormat.jsonText(p) + "\n" : PlanFormat.table(p));
        return 0;
    }
}
