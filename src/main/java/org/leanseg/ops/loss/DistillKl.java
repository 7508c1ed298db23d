package org.leanseg.ops.loss;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Knowledge-distillation loss KL(teacher ‖ student) at temperature T, times T² (Hinton et al. 2015),
 * in one of two forms ({@link Kind}); the teacher's logits get no gradient.
 * <ul>
 *   <li>{@link Kind#PIXEL} ({@code distill_kl_pixel}): inputs (student f32 [N, K, H, W], teacher
 *       f32 [N, K, H, W], labels i32 [N, H, W]) → f32 [1] =
 *       {@code T² · Σ_p Σ_k q_pk (log q_pk − log p_pk) / P} with {@code q = softmax(teacher/T)},
 *       {@code p = softmax(student/T)} over the K classes of pixel p, summed over the P pixels whose
 *       label is not {@code ignoreIndex} (0 when there is none), as CIRKD's and mmrazor's pixel-wise KD.</li>
 *   <li>{@link Kind#CHANNEL} ({@code distill_kl_channel}), channel-wise distillation (Shu et al. 2021,
 *       mmrazor's {@code ChannelWiseDivergence}): inputs (student, teacher), softmax over the H×W
 *       positions of each channel → {@code T² · Σ_{n,c} Σ_hw q (log q − log p) / (N·C)}.</li>
 * </ul>
 * The gradient with respect to the student is {@code dLoss · T / P · (p − q)} (resp. {@code / (N·C)}):
 * a teacher equal to the student gives 0 loss and 0 gradient exactly ({@code p} and {@code q} are the
 * same numbers). Arithmetic in double per distribution; one task per row, rows summed in order, so
 * the result does not depend on the thread count. No CUDA kernel; the cpu device runs the reference
 * kernel on host copies (its op-table fallback: the logits are a step's smallest activations).
 *
 * <pre>{@code
 * Value kd = g.apply1(new DistillKl(DistillKl.Kind.PIXEL, 4f, 255), studentLogits, teacherLogits, labels);
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=DistillKlTest}.
 *
 * @param kind pixel-wise (softmax over classes) or channel-wise (softmax over positions)
 * @param temperature T > 0
 * @param ignoreIndex the label of pixels the pixel-wise loss leaves out
 */
public record DistillKl(Kind kind, float temperature, int ignoreIndex) implements Op {
    /** Over what each softmax runs. */
    public enum Kind {
        /** Per pixel, over the classes; ignored pixels left out. */
        PIXEL,
        /** Per channel, over the H×W positions. */
        CHANNEL;

        /** The YAML and op-name spelling. */
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public DistillKl {
        if (kind == null) {
            throw new IllegalArgumentException("distillation kind is null");
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("distillation temperature must be finite and > 0, got " + temperature);
        }
    }

    @Override
    public String name() {
        return "distill_kl_" + kind.yamlName();
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        checkInputs(kind, in, 0);
        return List.of(TensorSpec.f32(1));
    }

    /** Checks (student, teacher[, labels]) followed by {@code extra} more inputs. */
    static void checkInputs(Kind kind, List<TensorSpec> in, int extra) {
        int logitInputs = kind == Kind.PIXEL ? 3 : 2;
        String names = kind == Kind.PIXEL ? "student logits, teacher logits, labels" : "student logits, teacher logits";
        OpException.check(in.size() == logitInputs + extra, "takes " + (logitInputs + extra) + " inputs (" + names
                + (extra > 0 ? ", dLoss" : "") + "), got " + in.size());
        TensorSpec s = in.get(0);
        OpException.check(s.dtype() == DType.F32 && s.shape().rank() == 4, "student logits must be f32 [N, K, H, W], got " + s);
        OpException.check(in.get(1).equals(s), "teacher logits " + in.get(1) + " must match the student's " + s
                + " (same classes, batch and size)");
        if (kind == Kind.PIXEL) {
            CrossEntropyMath.checkInputs(List.of(s, in.get(2)), null);
        }
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value[] in = new Value[node.inputs().size() + 1];
        for (int i = 0; i < node.inputs().size(); i++) {
            in[i] = node.input(i);
        }
        in[in.length - 1] = gradOut.get(0);
        Value dStudent = g.apply1(new DistillKlBackward(kind, temperature, ignoreIndex), in);
        Value[] grads = new Value[node.inputs().size()];
        grads[0] = dStudent;
        return Arrays.asList(grads);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 12 * in.get(0).shape().numel();
    }

    /** Reference kernel. */
    public static void reference(DistillKl op, RefView[] in, RefView[] out) {
        out[0].set(0, (float) Rows.of(op, in).run(in[0], in[1], null, 0));
    }

    /**
     * The rows of one distillation loss: each row is one distribution (a pixel's K classes, or a
     * channel's H×W positions), {@code count} values {@code stride} apart from its base.
     */
    record Rows(Kind kind, double temperature, int rows, int count, int stride, int classes, int plane, RefView labels,
                int ignoreIndex, double divisor) {
        static Rows of(DistillKl op, RefView[] in) {
            return of(op.kind, op.temperature, op.ignoreIndex, in);
        }

        static Rows of(Kind kind, float temperature, int ignoreIndex, RefView[] in) {
            Shape s = in[0].shape();
            int n = s.dim(0);
            int k = s.dim(1);
            int plane = s.dim(2) * s.dim(3);
            if (kind == Kind.PIXEL) {
                double valid = CrossEntropyMath.validateAndWeigh(in[2], k, ignoreIndex, null);
                return new Rows(kind, temperature, n * plane, k, plane, k, plane, in[2], ignoreIndex, valid);
            }
            return new Rows(kind, temperature, n * k, plane, 1, k, plane, null, ignoreIndex, (double) n * k);
        }

        /** The first element of row r, relative to a view's offset. */
        int base(int r) {
            return kind == Kind.PIXEL ? (r / plane) * classes * plane + r % plane : r * plane;
        }

        /** Whether row r is a pixel whose label is the ignore index (never for channel rows). */
        boolean ignored(int r) {
            return labels != null && labels.get(r) == ignoreIndex;
        }

        /**
         * The loss (T² · Σ rows' KL / divisor); with {@code dStudent} non-null, also writes
         * {@code dLoss · T / divisor · (p − q)} there (0 on ignored rows).
         */
        double run(RefView student, RefView teacher, RefView dStudent, double dLoss) {
            double[] sums = new double[rows];
            double gradScale = divisor > 0 ? dLoss * temperature / divisor : 0;
            Parallel.range(rows, Math.max(1, (1 << 12) / Math.max(1, count)), (lo, hi) -> {
                double[] p = new double[count];
                double[] q = new double[count];
                for (int r = lo; r < hi; r++) {
                    int b = base(r);
                    if (ignored(r) || divisor == 0) {
                        if (dStudent != null) {
                            for (int i = 0; i < count; i++) {
                                dStudent.set(b + i * stride, 0f);
                            }
                        }
                        continue;
                    }
                    sums[r] = kl(student.data(), student.offset() + b, teacher.data(), teacher.offset() + b, stride, count,
                            temperature, p, q);
                    if (dStudent != null) {
                        for (int i = 0; i < count; i++) {
                            dStudent.set(b + i * stride, (float) (gradScale * (p[i] - q[i])));
                        }
                    }
                }
            });
            double total = 0;
            for (double v : sums) {
                total += v;
            }
            return divisor > 0 ? temperature * temperature * total / divisor : 0;
        }
    }

    /**
     * KL(q ‖ p) of one row in double, {@code q = softmax(t/T)}, {@code p = softmax(s/T)}; leaves p and
     * q in the given arrays.
     */
    static double kl(float[] s, int sBase, float[] t, int tBase, int stride, int count, double temperature, double[] p, double[] q) {
        double sMax = Double.NEGATIVE_INFINITY;
        double tMax = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            sMax = Math.max(sMax, s[sBase + i * stride] / temperature);
            tMax = Math.max(tMax, t[tBase + i * stride] / temperature);
        }
        double sSum = 0;
        double tSum = 0;
        for (int i = 0; i < count; i++) {
            p[i] = Math.exp(s[sBase + i * stride] / temperature - sMax);
            q[i] = Math.exp(t[tBase + i * stride] / temperature - tMax);
            sSum += p[i];
            tSum += q[i];
        }
        double sLog = sMax + Math.log(sSum);
        double tLog = tMax + Math.log(tSum);
        double kl = 0;
        for (int i = 0; i < count; i++) {
            p[i] /= sSum;
            q[i] /= tSum;
            double logQ = t[tBase + i * stride] / temperature - tLog;
            double logP = s[sBase + i * stride] / temperature - sLog;
            kl += q[i] * (logQ - logP);
        }
        return kl;
    }
}
