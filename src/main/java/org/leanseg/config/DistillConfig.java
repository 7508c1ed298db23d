package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * {@code train.distill:} knowledge distillation from a trained teacher (off while {@code teacher} is
 * null). The teacher is any LeanSeg checkpoint (its model from the checkpoint's metadata); it runs
 * forward only, in eval mode, inside the same planned step, and the loss becomes
 * {@code cross-entropy + weight · KD} ({@code org.leanseg.ops.loss.DistillKl}).
 *
 * <pre>{@code
 * DistillConfig d = TrainingConfig.load(null, List.of("train.distill.teacher=work_dirs/big/best.safetensors",
 *         "train.distill.temperature=2", "train.distill.kind=channel")).train().distill();
 * }</pre>
 *
 * @param teacher the teacher's checkpoint (.safetensors), or null for no distillation
 * @param temperature softmax temperature T > 0 (the loss is multiplied by T²)
 * @param weight the distillation loss's weight w > 0 beside the cross-entropy
 * @param kind {@code pixel} (KL per pixel over the classes, ignored pixels left out) or {@code channel}
 *     (Shu et al. 2021: KL per channel over the positions of the stride-4 logits)
 */
public record DistillConfig(String teacher, double temperature, double weight, Kind kind) {
    /** The form of the distillation loss, spelled in YAML as lower-case names. */
    public enum Kind {
        PIXEL, CHANNEL;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static DistillConfig defaults() {
        return new DistillConfig(null, 1.0, 1.0, Kind.PIXEL);
    }

    /** Whether a teacher is set. */
    public boolean enabled() {
        return teacher != null;
    }

    static DistillConfig read(ConfigTree t) {
        DistillConfig d = new DistillConfig(
                t.string("train.distill.teacher", true),
                t.real("train.distill.temperature", 0, true, 100),
                t.real("train.distill.weight", 0, true, 1e6),
                t.choice("train.distill.kind", Kind.class));
        if (d.teacher == null) {
            // a printed config (config.yaml) repeats the defaults: only a changed value without a teacher is a mistake
            DistillConfig off = defaults();
            boolean[] changed = {d.temperature != off.temperature, d.weight != off.weight, d.kind != off.kind};
            String[] keys = {"temperature", "weight", "kind"};
            for (int i = 0; i < keys.length; i++) {
                String key = keys[i];
                if (changed[i] && t.isExplicit("train.distill." + key)) {
                    throw t.bad("train.distill." + key, "is set but train.distill.teacher is null; give the teacher's checkpoint, "
                            + "e.g. --set train.distill.teacher=work_dirs/<run>/best.safetensors");
                }
            }
        }
        return d;
    }
}
