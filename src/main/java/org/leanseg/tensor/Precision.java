package org.leanseg.tensor;

import java.util.Locale;

/**
 * The precision of a training step ({@code train.precision}, {@code --precision}).
 *
 * <p>Note [Mixed precision]: with {@link #BF16} or {@link #FP16} every activation and activation
 * gradient of the step is stored in that 16-bit type; weights (fp32 masters), their gradients, the
 * optimizer state, BN running statistics and batch statistics, the loss and its gradient seed stay
 * float32. How it comes about:
 * <ul>
 *   <li>The step's image input has the 16-bit type; each op's shape rule gives its data outputs the
 *       type of its data input (conv, norm, activation, resize, ...) and its statistics, losses and
 *       parameter gradients float32, so the whole graph follows (PyTorch autocast's lists, written
 *       as shape rules). The planner sizes each value by its type, so 16-bit values take 2 bytes
 *       and {@code plan}, {@code batch=auto} and every budget see the halved activations.</li>
 *   <li>Kernels compute in float32 and store rounded to nearest-even (binary16 overflows to
 *       infinity). The reference backend emulates that: float slots ({@code RefBuffer}) rounded on
 *       every store ({@code RefView#roundToStorage}), so CI checks the logic on any machine. A
 *       convolution multiplies 16-bit operands (its fp32 weights rounded to the activations' type,
 *       as tensor cores and oneDNN's bf16 primitives take them) and accumulates in float32. The
 *       softmax cross-entropy reads 16-bit logits and computes in float32.</li>
 *   <li>A device runs the 16-bit step where its op table cells take views of that type
 *       ({@code Ops.Cell#halfTypes}); elsewhere the cpu device runs the reference kernel on float
 *       host copies (converted on copy), and a device without that fallback refuses the step. The
 *       cpu kernels take bf16 and fp16 (all but the optimizer rows, which see only float32, and the
 *       loss-scaling rows, which have no cpu kernel); its convolutions run as Note [cpu 16-bit
 *       convolutions] in src/main/cpp/cpu/conv.cpp says.</li>
 *   <li>{@link #FP16} adds dynamic loss scaling (Note [Dynamic loss scaling] in ops/optim/LossScale, PyTorch's GradScaler).</li>
 * </ul>
 * Check: {@code mvn -B -q test -Dtest=MixedPrecisionTest}.
 */
public enum Precision {
    FP32(DType.F32), BF16(DType.BF16), FP16(DType.F16);

    private final DType activations;

    Precision(DType activations) {
        this.activations = activations;
    }

    /** The type activations and activation gradients are stored in. */
    public DType activations() {
        return activations;
    }

    /** Whether the step scales its loss dynamically (fp16's narrow exponent range needs it; bf16's does not). */
    public boolean lossScaling() {
        return this == FP16;
    }

    /** The config and command-line spelling: fp32, bf16, fp16. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The config spelling, as {@code --print-config} writes it. */
    @Override
    public String toString() {
        return key();
    }

    /** {@code fp32 | bf16 | fp16}; null for anything else. */
    public static Precision parse(String s) {
        for (Precision p : values()) {
            if (p.key().equals(s)) {
                return p;
            }
        }
        return null;
    }
}
