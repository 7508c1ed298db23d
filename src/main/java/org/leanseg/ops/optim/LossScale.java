package org.leanseg.ops.optim;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * The loss scale of an fp16 step, read from the loss-scaling state: autograd's seed dL/dL and the
 * unscale factor of the updates ({@link LossScaled}). Input {@code state f32 [3]}, output
 * {@code f32 [1]}.
 *
 * <p>Note [Dynamic loss scaling]: PyTorch's GradScaler with its defaults (initial scale 2^16, growth
 * x2 after 2000 steps without inf/NaN, backoff x0.5 and a skipped step on inf/NaN) keeps the scale a
 * power of two, {@code 2^(16 + k)}. The state is {@code [k, clean steps since the last change,
 * skipped steps]}: all zero at the start, which is what a new variable holds, so no code path can
 * forget to initialise it, and checkpoints carry it as any other tensor ({@code loss_scale/state}).
 * The step seeds the backward with the scale, {@link LossScaleUpdate} checks every parameter
 * gradient for inf/NaN and updates the state, and each optimizer update, wrapped in
 * {@link LossScaled}, divides its gradient by the scale or, on inf/NaN, leaves the parameter and its
 * optimizer state untouched. Each wrapped update takes the check's flag as an input, so the
 * updates-in-backward pass (Note [Updates in backward]) leaves them all after the check. All of it
 * runs as graph ops: nothing waits for the host. Check:
 * {@code mvn -B -q test -Dtest=LossScalingTest}.
 */
public record LossScale() implements Op {
    /** log2 of the initial scale (GradScaler's init_scale 2^16). */
    public static final int INITIAL_LOG2 = 16;
    /** Loss-scaling state: [k, clean steps, skipped steps]. */
    public static final TensorSpec STATE = TensorSpec.f32(3);

    @Override
    public String name() {
        return "loss_scale";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1 && in.get(0).equals(STATE), "takes the loss-scaling state f32 [3], got " + in);
        return List.of(TensorSpec.f32(1));
    }

    /** Never replayed: the state it reads changes at the end of the step. */
    @Override
    public Op recomputeOp() {
        return null;
    }

    /** The scale a state stands for: 2^(16 + k). */
    public static float scale(float k) {
        return Math.scalb(1f, INITIAL_LOG2 + (int) k);
    }

    public static void reference(LossScale op, RefView[] in, RefView[] out) {
        out[0].set(0, scale(in[0].get(0)));
    }
}
