package org.leanseg.ops.optim;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.TensorSpec;

/**
 * One SGD update of one parameter, PyTorch's {@code torch.optim.SGD} with dampening 0
 * (MODEL_SPEC.md "SGD"). Inputs {@code (param, grad, momentumBuf, lr f32 [1])}; no outputs; the
 * param and the momentum buffer are updated in place:
 * <pre>
 *   d   = g + weightDecay*p
 *   buf = momentum*buf + d          (buf starts at 0, so step 1 gives buf = d as in PyTorch)
 *   d   = nesterov ? d + momentum*buf : buf
 *   p  -= lr*lrScale*d
 * </pre>
 * With momentum 0 this is plain SGD ({@code p -= lr*(g + wd*p)}). The learning rate is a runtime
 * input, so a schedule changes it every step without re-planning. With {@code zeroGrad} the
 * gradient accumulator is set to 0 after use, ready for the next (micro-)batches to accumulate.
 *
 * <p><b>Parameter groups</b> are simply different attributes per parameter: each parameter gets
 * its own Sgd node, e.g. no weight decay on norm weights and biases and a 10x learning rate on a
 * new head:
 * <pre>{@code
 * Sgd conv = new Sgd(0.9f, false, 1e-4f, 1f, true);
 * Sgd norm = new Sgd(0.9f, false, 0f, 1f, true);
 * Sgd head = new Sgd(0.9f, false, 1e-4f, 10f, true);
 * g.apply(conv, weight, weightGrad, weightMomentum, lr);
 * }</pre>
 * Reference check: {@code mvn -Dtest=SgdTest test}.
 */
public record Sgd(float momentum, boolean nesterov, float weightDecay, float lrScale, boolean zeroGrad) implements Op {
    public Sgd {
        if (!(momentum >= 0) || Float.isInfinite(momentum)) {
            throw new IllegalArgumentException("sgd momentum must be finite and >= 0, got " + momentum);
        }
        if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("sgd weight decay must be finite and >= 0, got " + weightDecay);
        }
        if (!(lrScale >= 0) || Float.isInfinite(lrScale)) {
            throw new IllegalArgumentException("sgd lrScale must be finite and >= 0, got " + lrScale);
        }
        if (nesterov && momentum == 0) {
            throw new IllegalArgumentException("sgd Nesterov momentum requires momentum > 0 (as PyTorch)");
        }
    }

    @Override
    public String name() {
        return "sgd";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 4, "takes four inputs (param, grad, momentumBuf, lr), got " + in.size());
        TensorSpec p = in.get(0);
        OpException.check(p.dtype() == DType.F32, "param must be f32, got " + p);
        OpException.check(in.get(1).equals(p), "grad " + in.get(1) + " must match param " + p);
        OpException.check(in.get(2).equals(p), "momentumBuf " + in.get(2) + " must match param " + p);
        OpException.check(in.get(3).equals(TensorSpec.f32(1)), "lr must be f32 [1], got " + in.get(3));
        return List.of();
    }

    @Override
    public int[] mutatedInputs() {
        return zeroGrad ? new int[] {0, 1, 2} : new int[] {0, 2};
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return (nesterov ? 8 : 6) * in.get(0).shape().numel();
    }

    /**
     * Reference kernel, elementwise. Intermediates are rounded to float where PyTorch stores
     * float tensors (d and buf), so the update follows PyTorch's float32 arithmetic closely.
     */
    public static void reference(Sgd op, RefView[] in, RefView[] out) {
        RefView p = in[0];
        RefView g = in[1];
        RefView buf = in[2];
        double lr = (double) in[3].get(0) * op.lrScale;
        Parallel.range(p.size(), 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float d = (float) (g.get(i) + (double) op.weightDecay * p.get(i));
                float b = (float) ((double) op.momentum * buf.get(i) + d);
                buf.set(i, b);
                float step = op.nesterov ? (float) (d + (double) op.momentum * b) : b;
                p.set(i, (float) (p.get(i) - lr * step));
                if (op.zeroGrad) {
                    g.set(i, 0f);
                }
            }
        });
    }
}
