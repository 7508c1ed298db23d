package org.leanseg.ops.loss;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link DistillKl}: inputs (student, teacher[, labels], dLoss f32 [1]) → dStudent
 * [N, K, H, W] = {@code dLoss · T / D · (softmax(student/T) − softmax(teacher/T))}, D the pixel count
 * (pixel-wise; 0 on ignored pixels) or N·C (channel-wise). Both softmaxes are recomputed from the
 * logits, so the forward saves nothing but its inputs. Has no backward of its own. Check:
 * {@code mvn -B -q test -Dtest=DistillKlTest}.
 *
 * @param kind as the forward's
 * @param temperature as the forward's
 * @param ignoreIndex as the forward's
 */
public record DistillKlBackward(DistillKl.Kind kind, float temperature, int ignoreIndex) implements Op {
    public DistillKlBackward {
        new DistillKl(kind, temperature, ignoreIndex); // the same checks
    }

    @Override
    public String name() {
        return "distill_kl_" + kind.yamlName() + "_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        DistillKl.checkInputs(kind, in, 1);
        TensorSpec dLoss = in.get(in.size() - 1);
        OpException.check(dLoss.equals(TensorSpec.f32(1)), "dLoss must be f32 [1], got " + dLoss);
        return List.of(in.get(0));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 12 * in.get(0).shape().numel();
    }

    /** Reference kernel. */
    public static void reference(DistillKlBackward op, RefView[] in, RefView[] out) {
        DistillKl.Rows.of(op.kind, op.temperature, op.ignoreIndex, in).run(in[0], in[1], out[0], in[in.length - 1].get(0));
    }
}
