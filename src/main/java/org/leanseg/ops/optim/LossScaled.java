package org.leanseg.ops.optim;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.TensorSpec;

/**
 * An optimizer update ({@link Sgd} or {@link AdamW}) of a loss-scaled step (Note [Dynamic loss
 * scaling] in {@link LossScale}). Inputs: the update's own, then {@code scale f32 [1]} and
 * {@code found f32 [1]} ({@link LossScaleUpdate}). When {@code found} is 0 it runs the update on
 * the gradient times {@code 1/scale} (GradScaler's unscale: the reciprocal in float, exact for a
 * power of two); else the parameter and its optimizer state stay as they are (the skipped step)
 * and only a gradient accumulator the update zeroes is zeroed.
 */
public record LossScaled(Op update) implements Op {
    private static final int GRAD = 1;

    public LossScaled {
        if (!(update instanceof Sgd) && !(update instanceof AdamW)) {
            throw new IllegalArgumentException("loss scaling wraps sgd or adamw, got " + update.name());
        }
    }

    @Override
    public String name() {
        return "loss_scaled_update";
    }

    private int own() {
        return update instanceof Sgd ? 4 : 5;
    }

    private boolean zeroGrad() {
        return update instanceof Sgd s ? s.zeroGrad() : ((AdamW) update).zeroGrad();
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == own() + 2, update.name() + " with loss scaling takes " + (own() + 2)
                + " inputs (its own, scale, found), got " + in.size());
        OpException.check(in.get(own()).equals(TensorSpec.f32(1)) && in.get(own() + 1).equals(TensorSpec.f32(1)),
                "scale and found must be f32 [1], got " + in.subList(own(), in.size()));
        return update.infer(in.subList(0, own()));
    }

    @Override
    public int[] mutatedInputs() {
        return update.mutatedInputs();
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return update.flops(in.subList(0, own())) + in.get(GRAD).shape().numel();
    }

    /** The unscaled gradient is a copy (heap scratch of the gradient's size). */
    @Override
    public long workspaceBytes(List<TensorSpec> in) {
        return in.get(GRAD).bytes();
    }

    public static void reference(LossScaled op, RefView[] in, RefView[] out) {
        int own = op.own();
        RefView grad = in[GRAD];
        if (in[own + 1].get(0) != 0f) {
            if (op.zeroGrad()) {
                Arrays.fill(grad.data(), grad.offset(), grad.offset() + grad.size(), 0f);
            }
            return;
        }
        float inv = 1f / in[own].get(0);
        float[] unscaled = grad.toArray();
        for (int i = 0; i < unscaled.length; i++) {
            unscaled[i] *= inv;
        }
        RefView[] inner = Arrays.copyOf(in, own);
        inner[GRAD] = new RefView(unscaled, 0, grad.spec());
        Ops.runReference(op.update, inner, out);
        if (op.zeroGrad()) {
            Arrays.fill(grad.data(), grad.offset(), grad.offset() + grad.size(), 0f);
        }
    }
}
