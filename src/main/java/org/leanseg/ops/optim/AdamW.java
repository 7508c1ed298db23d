package org.leanseg.ops.optim;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.TensorSpec;

/**
 * One AdamW update of one parameter, PyTorch's {@code torch.optim.AdamW} (decoupled weight decay,
 * no amsgrad). Inputs {@code (param, grad, m, v, hyper f32 [3])} with
 * {@code hyper = [lr, 1 - beta1^t, 1 - beta2^t]} for step t (runtime values, so schedules and the
 * step count need no re-planning); no outputs; param, m and v are updated in place:
 * <pre>
 *   p  *= 1 - lr*lrScale*weightDecay
 *   m   = beta1*m + (1-beta1)*g
 *   v   = beta2*v + (1-beta2)*g*g
 *   p  -= lr*lrScale * (m / (1-beta1^t)) / (sqrt(v / (1-beta2^t)) + eps)
 * </pre>
 * With {@code zeroGrad} the gradient accumulator is set to 0 after use. Parameter groups are
 * different attributes per parameter, as for {@link Sgd}. Reference check: {@code mvn -Dtest=AdamWTest test}.
 */
public record AdamW(float beta1, float beta2, float eps, float weightDecay, float lrScale, boolean zeroGrad) implements Op {
    public AdamW {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("adamw betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
        if (!(eps > 0) || !(weightDecay >= 0) || !(lrScale >= 0)) {
            throw new IllegalArgumentException("adamw eps must be > 0, weight decay and lrScale >= 0");
        }
    }

    /** The runtime hyper input for step {@code t} (1-based). */
    public static float[] hyper(double lr, double beta1, double beta2, long t) {
        return new float[] {(float) lr, (float) (1 - Math.pow(beta1, t)), (float) (1 - Math.pow(beta2, t))};
    }

    @Override
    public String name() {
        return "adamw";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 5, "takes five inputs (param, grad, m, v, hyper), got " + in.size());
        TensorSpec p = in.get(0);
        OpException.check(p.dtype() == DType.F32, "param must be f32, got " + p);
        for (int i = 1; i < 4; i++) {
            OpException.check(in.get(i).equals(p), "input " + i + " " + in.get(i) + " must match param " + p);
        }
        OpException.check(in.get(4).equals(TensorSpec.f32(3)), "hyper must be f32 [3] (lr, 1-beta1^t, 1-beta2^t), got " + in.get(4));
        return List.of();
    }

    @Override
    public int[] mutatedInputs() {
        return zeroGrad ? new int[] {0, 1, 2, 3} : new int[] {0, 2, 3};
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 12 * in.get(0).shape().numel();
    }

    public static void reference(AdamW op, RefView[] in, RefView[] out) {
        float[] p = in[0].data();
        int po = in[0].offset();
        float[] g = in[1].data();
        int go = in[1].offset();
        float[] m = in[2].data();
        int mo = in[2].offset();
        float[] v = in[3].data();
        int vo = in[3].offset();
        double lr = (double) in[4].get(0) * op.lrScale;
        double bc1 = in[4].get(1);
        double bc2 = in[4].get(2);
        double decay = 1 - lr * op.weightDecay;
        double b1 = op.beta1;
        double b2 = op.beta2;
        Parallel.range(in[0].size(), 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                double gi = g[go + i];
                float mi = (float) (b1 * m[mo + i] + (1 - b1) * gi);
                float vi = (float) (b2 * v[vo + i] + (1 - b2) * gi * gi);
                m[mo + i] = mi;
                v[vo + i] = vi;
                double denom = Math.sqrt(vi / bc2) + op.eps;
                p[po + i] = (float) (p[po + i] * decay - lr * (mi / bc1) / denom);
                if (op.zeroGrad) {
                    g[go + i] = 0f;
                }
            }
        });
    }
}
