package org.leanseg.ops.norm;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * BatchNorm2d with PyTorch semantics (MODEL_SPEC.md "BatchNorm2d"): inputs
 * {@code (x [N,C,H,W], gamma [C], beta [C], runningMean [C], runningVar [C])}. One op, one forward
 * arithmetic; its {@link Mode} says which statistics normalise, whether the running ones are
 * updated, whether y may overwrite x and what backward reads. The table name follows the mode
 * ({@link Mode#opName}).
 *
 * <p>Training ({@link Mode#TRAIN}, {@link Mode#TRAIN_IN_PLACE}, {@link Mode#REPLAY}): normalises
 * with the batch mean and the <em>biased</em> batch variance over (N, H, W); outputs
 * {@code (y, saveMean [C], saveInvStd [C])}; TRAIN and TRAIN_IN_PLACE update the running statistics
 * in place: {@code rm = (1-m)*rm + m*mean}, {@code rv = (1-m)*rv + m*var*n/(n-1)} with
 * {@code n = N*H*W}. PyTorch raises for n = 1; here the unbiased variance is taken as the biased
 * one (0) when n = 1, so the running variance decays instead of becoming NaN or infinite.
 *
 * <p>Eval ({@link Mode#EVAL}): one output {@code y = (x - rm)/sqrt(rv + eps)*gamma + beta}; running
 * stats are read only.
 *
 * <p>Note [In-place BN backward]. Stock BatchNorm's backward needs x̂ = (x − mean)·invStd, so the
 * input x stays alive until backward, next to the output y that the following op reads: two
 * tensors per layer. Since y = γ·x̂ + β, the backward can recover x̂ = (y − β)/γ from y alone
 * (In-Place Activated BatchNorm, Rota Bulò et al. 2018, without its leaky-ReLU
 * reparameterisation: weights stay stock PyTorch weights). Then x dies at this op and y takes
 * its buffer (the planner aliases them), so one tensor per layer is kept: that is
 * {@link Mode#TRAIN_IN_PLACE}, whose backward is {@link BatchNormBackward.Source#Y}. The following
 * ReLU/ReLU6 must not overwrite y: the fused ReLU·depthwise conv reads y as its pre-activation
 * input, and other activations are recomputed from y in backward, so y is all that is saved.
 * The inversion divides by γ: where |γ_c| < {@link #GAMMA_GUARD}·(1 + |β_c|) the recovered x̂ loses
 * its precision (at γ = 0 it is gone), so such a layer must keep its input: the rewrite
 * (graph/passes/InPlaceVariants) leaves it stock, and the executor checks the guard before every
 * step ({@link #guardViolation}). Cited by InPlaceVariants, BatchNormBackward, ActConv2d
 * and memory.InPlace. Checked by {@code InPlaceOpsTest} (gradients, γ = 0, agreement with stock).
 *
 * <pre>{@code
 * List<Value> out = g.apply(new BatchNorm(1e-5, 0.1, true), x, gamma, beta, runningMean, runningVar);
 * Value y = out.get(0);
 * g.apply(BatchNorm.of(BatchNorm.Mode.REPLAY), x, gamma, beta, runningMean, runningVar); // running stats untouched
 * }</pre>
 * Reference check: {@code mvn -Dtest=BatchNormTest test}.
 */
public record BatchNorm(double eps, double momentum, Mode mode) implements Op {
    /** Relative |γ| below which the inversion x̂ = (y − β)/γ is refused (about 10 bits of x̂ lost at worst). */
    public static final double GAMMA_GUARD = 1e-3;

    /** Where the statistics come from, what the kernel may overwrite, and what backward reads. */
    public enum Mode {
        /** Batch statistics, running statistics updated; backward reads x ({@link BatchNormBackward.Source#X}). */
        TRAIN("batch_norm"),
        /**
         * As TRAIN, but y may overwrite x and backward reads y ({@link BatchNormBackward.Source#Y}):
         * Note [In-place BN backward]. Put in place of TRAIN by the InPlaceVariants rewrite.
         */
        TRAIN_IN_PLACE("batch_norm_inplace"),
        /**
         * A recomputed training BN (graph/passes/Recompute): the same batch statistics and output bit
         * for bit, running statistics neither read nor written, so they are updated once per step
         * however often a recompute policy replays the layer; y may overwrite x. No backward (it only
         * runs in the RECOMPUTE phase, after autograd).
         */
        REPLAY("batch_norm_replay"),
        /** Running statistics, read only; one output; backward {@link BatchNormBackward.Source#EVAL}. */
        EVAL("batch_norm");

        private final String opName;

        Mode(String opName) {
            this.opName = opName;
        }

        /** The op-table name of this mode. */
        public String opName() {
            return opName;
        }

        /** Normalises with batch statistics and outputs them. */
        public boolean training() {
            return this != EVAL;
        }

        /** Updates the running statistics (inputs 3 and 4) in place. */
        public boolean updatesStatistics() {
            return this == TRAIN || this == TRAIN_IN_PLACE;
        }

        /** y may take x's buffer (the kernel reads a channel before writing it). */
        public boolean inPlace() {
            return this == TRAIN_IN_PLACE || this == REPLAY;
        }
    }

    public BatchNorm {
        if (!(eps > 0)) {
            throw new IllegalArgumentException("batch_norm eps must be > 0, got " + eps);
        }
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("batch_norm momentum must be in [0, 1], got " + momentum);
        }
        if (mode == null) {
            throw new IllegalArgumentException("batch_norm mode is null");
        }
        if (mode == Mode.REPLAY) {
            momentum = 0; // a replay never updates the running statistics: one replay op per eps
        }
    }

    /** Stock BatchNorm: {@link Mode#TRAIN} when {@code training}, else {@link Mode#EVAL}. */
    public BatchNorm(double eps, double momentum, boolean training) {
        this(eps, momentum, training ? Mode.TRAIN : Mode.EVAL);
    }

    /** PyTorch's defaults: eps 1e-5, momentum 0.1. */
    public static BatchNorm of(boolean training) {
        return new BatchNorm(1e-5, 0.1, training);
    }

    /** PyTorch's defaults in another mode. */
    public static BatchNorm of(Mode mode) {
        return new BatchNorm(1e-5, 0.1, mode);
    }

    /** The same layer in another mode. */
    public BatchNorm with(Mode m) {
        return new BatchNorm(eps, momentum, m);
    }

    /** Normalises with batch statistics (every mode but EVAL). */
    public boolean training() {
        return mode.training();
    }

    @Override
    public String name() {
        return mode.opName();
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "x, gamma, beta, runningMean, runningVar");
        Shape x = NormShapes.activation(in.get(0), "x");
        int c = NormShapes.channels(x);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), c, "beta", x);
        NormShapes.vector(in.get(3), c, "runningMean", x);
        NormShapes.vector(in.get(4), c, "runningVar", x);
        if (!training()) {
            return List.of(in.get(0));
        }
        return List.of(in.get(0), TensorSpec.f32(c), TensorSpec.f32(c));
    }

    @Override
    public int[] mutatedInputs() {
        return mode.updatesStatistics() ? new int[] {3, 4} : new int[0];
    }

    /** y may overwrite x in TRAIN_IN_PLACE and REPLAY: see Note [In-place BN backward]. */
    @Override
    public int inPlaceInput(int output) {
        return mode.inPlace() && output == 0 ? 0 : -1;
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        if (mode == Mode.REPLAY) {
            throw new OpException(name() + " has no backward rule (it runs after autograd)");
        }
        Value dy = gradOut.get(0);
        if (dy == null) {
            // only saveMean / saveInvStd were used downstream; they are statistics, not activations
            return Arrays.asList(null, null, null, null, null);
        }
        List<Value> d = switch (mode) {
            case TRAIN -> g.apply(BatchNormBackward.of(BatchNormBackward.Source.X), node.input(0), node.input(1), node.output(1),
                    node.output(2), dy);
            case TRAIN_IN_PLACE -> g.apply(BatchNormBackward.of(BatchNormBackward.Source.Y), node.output(0), node.input(1),
                    node.input(2), node.output(2), dy);
            default -> g.apply(BatchNormBackward.eval(eps), node.input(0), node.input(1), node.input(3), node.input(4), dy);
        };
        return Arrays.asList(d.get(0), d.get(1), d.get(2), null, null);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        long n = in.get(0).shape().numel();
        return training() ? 7 * n : 2 * n;
    }

    /**
     * The op a recomputed copy runs (graph/passes/Recompute): in training, {@link Mode#REPLAY}, the
     * same batch statistics and output without the running-statistics update, so the update happens
     * once per step however often the layer is recomputed.
     */
    @Override
    public Op recomputeOp() {
        return mode.updatesStatistics() ? with(Mode.REPLAY) : this;
    }

    /** Stock training BN has an in-place variant: Note [In-place BN backward]. */
    @Override
    public Op inPlaceVariant() {
        return mode == Mode.TRAIN ? with(Mode.TRAIN_IN_PLACE) : null;
    }

    /** Note [BN through a depthwise replay]: training BN is cheap to replay after a depthwise conv. */
    @Override
    public Replay cheapToReplay() {
        return mode.updatesStatistics() ? Replay.CHEAP_AFTER_DEPTHWISE : Replay.COSTLY;
    }

    /** The in-place mode inverts γ: the executor checks γ (input 1) and β (input 2) before every step. */
    @Override
    public int[] guardedInputs() {
        return mode == Mode.TRAIN_IN_PLACE ? new int[] {1, 2} : new int[0];
    }

    @Override
    public String guardViolation(RefView[] guarded) {
        return guardViolation(guarded[0], guarded[1]);
    }

    /** Null when every channel's γ is far enough from 0 to invert, else which channel is not. */
    public static String guardViolation(RefView gamma, RefView beta) {
        for (int c = 0; c < gamma.size(); c++) {
            double gc = gamma.get(c);
            if (!(Math.abs(gc) >= GAMMA_GUARD * (1 + Math.abs(beta.get(c))))) {
                return "channel " + c + " has gamma " + gc + " (beta " + beta.get(c) + ")";
            }
        }
        return null;
    }

    /**
     * Reference kernel: one task per channel (statistics and outputs of a channel are independent).
     * Safe when y and x are one view (in-place modes): each channel's statistics are taken before
     * that channel is written.
     */
    public static void reference(BatchNorm op, RefView[] in, RefView[] out) {
        forward(op.eps, op.training(), op.mode.updatesStatistics() ? op.momentum : -1, in, out);
    }

    /**
     * The forward arithmetic: batch statistics when {@code training}, else the running ones;
     * {@code momentum} &lt; 0 skips the running-statistics update ({@link Mode#REPLAY}).
     * Safe when y and x are one view: a channel's statistics are taken before it is written.
     */
    static void forward(double eps, boolean training, double momentum, RefView[] in, RefView[] out) {
        RefView x = in[0];
        Shape s = x.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        RefView y = out[0];
        Parallel.range(ch, NormShapes.grain((long) nb * hw * 3), (lo, hi) -> {
            double[] means = new double[hi - lo];
            double[] vars = new double[hi - lo];
            double[] scale = new double[hi - lo];
            double[] shift = new double[hi - lo];
            if (training) {
                meanVar(x, nb, ch, hw, lo, hi, means, vars);
            }
            for (int c = lo; c < hi; c++) {
                double mean;
                double invStd;
                if (training) {
                    mean = means[c - lo];
                    double var = vars[c - lo];
                    invStd = 1.0 / Math.sqrt(var + eps);
                    out[1].set(c, (float) mean);
                    out[2].set(c, (float) invStd);
                    if (momentum >= 0) {
                        long n = (long) nb * hw;
                        double unbiased = n > 1 ? var * n / (n - 1) : var;
                        in[3].set(c, (float) ((1 - momentum) * in[3].get(c) + momentum * mean));
                        in[4].set(c, (float) ((1 - momentum) * in[4].get(c) + momentum * unbiased));
                    }
                } else {
                    mean = in[3].get(c);
                    invStd = 1.0 / Math.sqrt(in[4].get(c) + eps);
                }
                scale[c - lo] = in[1].get(c) * invStd;
                shift[c - lo] = in[2].get(c) - mean * scale[c - lo];
            }
            affine(x, y, nb, ch, hw, lo, hi, scale, shift);
        });
    }

    /**
     * {@code y = x * scale[c - lo] + shift[c - lo]} in double over channels [lo, hi) (y may be x),
     * channel-innermost on small planes (Note [Channel-innermost sums]; every element is computed
     * alike either way).
     */
    private static void affine(RefView x, RefView y, int nb, int ch, int hw, int lo, int hi, double[] scale, double[] shift) {
        float[] xd = x.data();
        float[] yd = y.data();
        if (hw > NormShapes.SMALL_PLANE) {
            for (int c = lo; c < hi; c++) {
                double k = scale[c - lo];
                double d = shift[c - lo];
                for (int b = 0; b < nb; b++) {
                    int base = (b * ch + c) * hw;
                    for (int i = 0; i < hw; i++) {
                        yd[y.offset() + base + i] = (float) (xd[x.offset() + base + i] * k + d);
                    }
                }
            }
            return;
        }
        int cl = hi - lo;
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < hw; i++) {
                int xa = x.offset() + (b * ch + lo) * hw + i;
                int ya = y.offset() + (b * ch + lo) * hw + i;
                for (int c = 0; c < cl; c++) {
                    yd[ya + c * hw] = (float) (xd[xa + c * hw] * scale[c] + shift[c]);
                }
            }
        }
    }

    /**
     * Means and biased variances of channels [lo, hi) over (N, spatial), two-pass in double, into
     * {@code mean[c - lo]} and {@code var[c - lo]}. See Note [Channel-innermost sums].
     */
    static void meanVar(RefView x, int nb, int ch, int hw, int lo, int hi, double[] mean, double[] var) {
        if (hw > NormShapes.SMALL_PLANE) {
            for (int c = lo; c < hi; c++) {
                double[] mv = meanVar(x, nb, ch, hw, c);
                mean[c - lo] = mv[0];
                var[c - lo] = mv[1];
            }
            return;
        }
        float[] xd = x.data();
        int cl = hi - lo;
        long n = (long) nb * hw;
        java.util.Arrays.fill(mean, 0, cl, 0);
        java.util.Arrays.fill(var, 0, cl, 0);
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < hw; i++) {
                int at = x.offset() + (b * ch + lo) * hw + i;
                for (int c = 0; c < cl; c++) {
                    mean[c] += xd[at + c * hw];
                }
            }
        }
        for (int c = 0; c < cl; c++) {
            mean[c] /= n;
        }
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < hw; i++) {
                int at = x.offset() + (b * ch + lo) * hw + i;
                for (int c = 0; c < cl; c++) {
                    double d = xd[at + c * hw] - mean[c];
                    var[c] += d * d;
                }
            }
        }
        for (int c = 0; c < cl; c++) {
            var[c] /= n;
        }
    }

    /** Mean and biased variance of channel {@code c} over (N, spatial), two-pass in double. */
    static double[] meanVar(RefView x, int nb, int ch, int hw, int c) {
        double sum = 0;
        for (int b = 0; b < nb; b++) {
            int base = (b * ch + c) * hw;
            for (int i = 0; i < hw; i++) {
                sum += x.get(base + i);
            }
        }
        long n = (long) nb * hw;
        double mean = sum / n;
        double sq = 0;
        for (int b = 0; b < nb; b++) {
            int base = (b * ch + c) * hw;
            for (int i = 0; i < hw; i++) {
                double d = x.get(base + i) - mean;
                sq += d * d;
            }
        }
        return new double[] {mean, sq / n};
    }
}
