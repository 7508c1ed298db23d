package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;
import java.util.Locale;

/**
 * {@code eval:} section: how validation images are run through the network.
 *
 * <pre>{@code
 * EvalConfig e = TrainingConfig.load(null, List.of("eval.mode=slide", "eval.crop_size=256",
 *         "eval.scales=[0.75, 1.0, 1.25]", "eval.memory_budget=2GiB")).eval();
 * }</pre>
 *
 * @param mode {@code whole} (the full image at once) or {@code slide} (overlapping windows,
 *     logits averaged, as mmsegmentation's slide inference)
 * @param cropSize window size [h, w] in slide mode
 * @param stride window step [h, w] in slide mode; at most the crop size
 * @param scales image scale factors; the logits of every scale (resized back) are averaged, as
 *     mmsegmentation's multi-scale test ({@code [1.0]}: one plain pass)
 * @param memoryBudget bytes one inference may plan; a whole image over it is evaluated in slide mode.
 *     Null: the memory the backend could allocate when inference starts
 */
public record EvalConfig(Mode mode, Size2 cropSize, Size2 stride, List<Double> scales, Long memoryBudget) {
    /** The largest scale factor accepted. */
    public static final double MAX_SCALE = 8;

    public EvalConfig {
        scales = List.copyOf(scales);
    }

    /** Inference modes, spelled in YAML as their lower-case names. */
    public enum Mode {
        WHOLE, SLIDE;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static EvalConfig defaults() {
        return new EvalConfig(Mode.WHOLE, Size2.square(512), Size2.square(341), List.of(1.0), null);
    }

    static EvalConfig read(ConfigTree t) {
        EvalConfig e = new EvalConfig(t.choice("eval.mode", Mode.class), t.size("eval.crop_size"), t.size("eval.stride"),
                t.positiveRealList("eval.scales", MAX_SCALE), t.bytesOrNull("eval.memory_budget"));
        if (e.stride.height() > e.cropSize.height() || e.stride.width() > e.cropSize.width()) {
            throw t.bad("eval.stride", e.stride + " is larger than eval.crop_size " + e.cropSize
                    + ": sliding windows would skip pixels");
        }
        return e;
    }
}
