package org.leanseg.ops.optim;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * Note [Dynamic loss scaling] (in {@link LossScale}): GradScaler's inf/NaN check and update as one
 * op. Inputs {@code (state f32 [3], grad...)}: the state and every parameter gradient of the
 * update; output {@code found f32 [1]}, 1 when some gradient element is inf or NaN, else 0. The
 * state is updated in place: on inf/NaN the scale halves (k - 1), the clean-step count restarts and
 * the skipped-step count grows; else the clean-step count grows and, on reaching
 * {@code growthInterval}, the scale doubles (k + 1; PyTorch grows only to a finite scale, here up
 * to 2^127) and the count restarts.
 */
public record LossScaleUpdate(int growthInterval) implements Op {
    /** GradScaler's default growth_interval. */
    public static final int GROWTH_INTERVAL = 2000;

    public LossScaleUpdate {
        if (growthInterval < 1) {
            throw new IllegalArgumentException("loss-scale growth interval must be >= 1, got " + growthInterval);
        }
    }

    @Override
    public String name() {
        return "loss_scale_update";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() >= 2 && in.get(0).equals(LossScale.STATE),
                "takes the loss-scaling state f32 [3] and the gradients, got " + in);
        for (int i = 1; i < in.size(); i++) {
            OpException.check(in.get(i).dtype().isFloating(), "gradient " + i + " must be a float tensor, got " + in.get(i));
        }
        return List.of(TensorSpec.f32(1));
    }

    @Override
    public int[] mutatedInputs() {
        return new int[] {0};
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.stream().skip(1).mapToLong(s -> s.shape().numel()).sum();
    }

    public static void reference(LossScaleUpdate op, RefView[] in, RefView[] out) {
        boolean found = false;
        for (int g = 1; g < in.length && !found; g++) {
            RefView grad = in[g];
            for (int i = 0; i < grad.size(); i++) {
                if (!Float.isFinite(grad.get(i))) {
                    found = true;
                    break;
                }
            }
        }
        RefView state = in[0];
        float k = state.get(0);
        float clean = state.get(1);
        if (found) {
            state.set(0, k - 1);
            state.set(1, 0);
            state.set(2, state.get(2) + 1);
        } else if (clean + 1 >= op.growthInterval && LossScale.INITIAL_LOG2 + k + 1 <= 127) {
            state.set(0, k + 1);
            state.set(1, 0);
        } else {
            state.set(1, clean + 1);
        }
        out[0].set(0, found ? 1f : 0f);
    }
}
