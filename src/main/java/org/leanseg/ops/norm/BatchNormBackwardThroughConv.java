package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.Sgemm;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Note [BN backward through a 1x1 convolution]
 * The in-place BN's backward from its output y ({@link BatchNormBackward.Source#Y}) when its dY is
 * {@code act'(y) ⊙ Wᵀ·dOut}: the data gradient of a 1x1 stride-1 convolution (weight W [K, C, 1, 1])
 * that reads act(y), through the activation's gate. DeepLabV3+'s classifier is one (21 classes from
 * 256 channels at stride 4): its data gradient is a 256-channel tensor (128 MiB at MobileNetV2 b8
 * 512²) made from a 21-channel one, and it sat beside y and the first fuse convolution's output at
 * the decoder's backward. Here it is never stored: the two passes of the BN backward (per-channel
 * sums, then the elementwise dX) each recompute it for a band of pixels with one small GEMM (K = 21
 * products per element), and dX is written over y (y's last reader; each element is read before it is
 * written). Inputs {@code (y, gamma, beta, saveInvStd, dOut, W)}, outputs {@code (dX, dGamma, dBeta)}
 * as {@link BatchNormBackward}. Extra cost: one more 1x1 data gradient (2·K·C per pixel, 0.11% of
 * MobileNetV2's step at b8 512²). The sums run per channel in image-then-pixel order in double, as
 * the plain backward's large-plane path does. Only on the reference backend (Ops table); put in by
 * {@code graph/passes/BatchNormBackwardThroughConvFusion}. Checked by {@code BatchNormBackwardThroughConvTest}.
 */
public record BatchNormBackwardThroughConv(Activation.Kind act) implements Op {
    /** Floats of the band of the recomputed data gradient (C channels x band pixels): 4 MiB. */
    static final int BAND_FLOATS = 1 << 20;

    /** Pixels per band: as many as keep C of them under {@link #BAND_FLOATS}, at least 1, at most a plane. */
    static int bandPixels(int channels, int plane) {
        return Math.max(1, Math.min(plane, BAND_FLOATS / channels));
    }

    /** The weights, rounded to the activations' 16-bit type (Note [Mixed precision]). */
    @Override
    public int[] roundedOperands() {
        return new int[] {5};
    }

    @Override
    public String name() {
        return "batch_norm_backward_through_" + (act == Activation.Kind.RELU ? "relu" : "relu6") + "_conv1x1";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 6, "y, gamma, beta, saveInvStd, dOut, weight");
        Shape y = NormShapes.activation(in.get(0), "y");
        int c = NormShapes.channels(y);
        NormShapes.vector(in.get(1), c, "gamma", y);
        NormShapes.vector(in.get(2), c, "beta", y);
        NormShapes.vector(in.get(3), c, "saveInvStd", y);
        Shape d = in.get(4).shape();
        Shape w = in.get(5).shape();
        OpException.check(w.rank() == 4 && w.dim(1) == c && w.dim(2) == 1 && w.dim(3) == 1,
                "weight must be a 1x1 convolution's [K, " + c + ", 1, 1], got " + w);
        OpException.check(d.rank() == 4 && d.dim(0) == y.dim(0) && d.dim(1) == w.dim(0) && d.dim(2) == y.dim(2) && d.dim(3) == y.dim(3),
                "dOut must be [" + y.dim(0) + ", " + w.dim(0) + ", " + y.dim(2) + ", " + y.dim(3) + "], got " + d);
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    /** dX over y: each element is written after it was last read. */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 0 : -1;
    }

    /** Two 1x1 data gradients (one per pass) and the BN backward's elementwise work. */
    @Override
    public long flops(List<TensorSpec> in) {
        long numel = in.get(0).shape().numel();
        return 2 * 2L * numel * in.get(5).shape().dim(0) + 10 * numel;
    }

    /** The second data gradient: the unfused chain computed it once (plans count it as recomputation). */
    @Override
    public long recomputedFlops(List<TensorSpec> in) {
        return 2L * in.get(0).shape().numel() * in.get(5).shape().dim(0);
    }

    @Override
    public long workspaceBytes(List<TensorSpec> in) {
        Shape y = in.get(0).shape();
        return 4L * y.dim(1) * bandPixels(y.dim(1), NormShapes.spatial(y));
    }

    /** Reference kernel: in = {y, gamma, beta, saveInvStd, dOut, W}, out = {dX, dGamma, dBeta}; dX may be y's view. */
    public static void reference(BatchNormBackwardThroughConv op, RefView[] in, RefView[] out) {
        RefView y = in[0];
        Shape s = y.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        int k = in[5].shape().dim(0);
        double[] sumDz = new double[ch];
        double[] sumDzXhat = new double[ch];
        double[] beta = new double[ch];
        double[] invGamma = new double[ch];
        for (int c = 0; c < ch; c++) {
            beta[c] = in[2].get(c);
            invGamma[c] = 1.0 / in[1].get(c);
        }
        int band = bandPixels(ch, hw);
        float[] dA = new float[ch * band];
        RefView w = in[5].roundedTo(y.spec().dtype());
        for (int pass = 0; pass < 2; pass++) {
            double[] scale = new double[ch];
            for (int c = 0; pass == 1 && c < ch; c++) {
                out[1].set(c, (float) sumDzXhat[c]);
                out[2].set(c, (float) sumDz[c]);
                scale[c] = in[1].get(c) * in[3].get(c);
                sumDz[c] /= (double) nb * hw;       // now the mean of dz
                sumDzXhat[c] /= (double) nb * hw;   // and of dz·x̂
            }
            for (int b = 0; b < nb; b++) {
                for (int p0 = 0; p0 < hw; p0 += band) {
                    int len = Math.min(band, hw - p0);
                    int from = p0;
                    // dA[c][q] = Σ_k W[k, c] · dOut[b, k, p0 + q]: Wᵀ [C x K] times dOut's band [K x len]
                    Sgemm.run(List.of(new Sgemm.Problem(ch, len, k, new Sgemm.Strided(w.data(), w.offset(), 1, ch),
                            new Sgemm.Strided(in[4].data(), in[4].offset() + b * k * hw + p0, hw, 1), dA, 0, len)), false);
                    int at = b;
                    boolean sums = pass == 0;
                    Parallel.range(ch, 1, (lo, hi) -> {
                        for (int c = lo; c < hi; c++) {
                            int base = (at * ch + c) * hw + from;
                            if (sums) {
                                accumulate(op.act, y, base, dA, c * len, len, beta[c], invGamma[c], c, sumDz, sumDzXhat);
                            } else {
                                write(op.act, y, out[0], base, dA, c * len, len, beta[c], invGamma[c], scale[c], sumDz[c], sumDzXhat[c]);
                            }
                        }
                    });
                }
            }
        }
    }

    private static void accumulate(Activation.Kind act, RefView y, int base, float[] dA, int from, int len, double beta, double invGamma,
                                   int c, double[] sumDz, double[] sumDzXhat) {
        double s = sumDz[c];
        double sx = sumDzXhat[c];
        for (int q = 0; q < len; q++) {
            float yv = y.get(base + q);
            double dz = act.gate(yv, dA[from + q]);
            s += dz;
            sx += dz * ((yv - beta) * invGamma);
        }
        sumDz[c] = s;
        sumDzXhat[c] = sx;
    }

    private static void write(Activation.Kind act, RefView y, RefView dx, int base, float[] dA, int from, int len, double beta,
                              double invGamma, double scale, double meanDz, double meanDzXhat) {
        for (int q = 0; q < len; q++) {
            float yv = y.get(base + q);
            double xhat = (yv - beta) * invGamma;
            dx.set(base + q, (float) (scale * (act.gate(yv, dA[from + q]) - meanDz - xhat * meanDzXhat)));
        }
    }
}
