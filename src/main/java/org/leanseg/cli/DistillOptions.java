package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.leanseg.config.DistillConfig;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.ModelConfig;
import org.leanseg.train.Distillation;
import picocli.CommandLine.Option;

/**
 * The distillation options of {@code plan} and {@code profile} (a picocli mixin): the step with a
 * teacher's forward in it, as {@code train.distill} trains it (Note [Distillation loss]); the plan
 * and the reports show the teacher as the stage {@code teacher}.
 *
 * <pre>{@code
 * leanseg plan --batch 16 --size 32x32 --width 0.5 --classes 6 --teacher work_dirs/big/best.safetensors --distill-kind channel
 * }</pre>
 */
final class DistillOptions {
    @Option(names = "--teacher", description = "plan the step distilled from this teacher checkpoint (its model from the checkpoint's "
            + "metadata), as train.distill.teacher does")
    Path teacher;

    @Option(names = "--distill-kind", defaultValue = "pixel", description = "pixel (full-resolution logits) or channel "
            + "(stride-4 logits), as train.distill.kind (default: ${DEFAULT-VALUE})")
    String kind;

    /**
     * The distillation these options name for {@code student}, or null without {@code --teacher}.
     *
     * @throws IllegalArgumentException one line naming the flag and the problem
     */
    Distillation distillation(ModelConfig student) {
        DistillConfig.Kind k;
        try {
            k = DistillConfig.Kind.valueOf(kind.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--distill-kind " + kind + ": must be pixel or channel");
        }
        if (teacher == null) {
            return null;
        }
        try {
            // the weights are read too (and not used: plan allocates nothing, profile steps on random weights)
            return Distillation.load(new DistillConfig(teacher.toString(), 1, 1, k), student, new VariableStore());
        } catch (IOException | org.leanseg.config.ConfigException e) {
            throw new IllegalArgumentException("--teacher " + e.getMessage().replaceFirst("^train\\.distill\\.teacher: ", ""), e);
        }
    }
}
