package org.leanseg.backend.cuda;

/**
 * Batch norm, group norm and the conv bias gradient as launches of the norm kernels (Note [Two-level norm
 * reductions] in src/main/cuda/norm.cuh), over any {@link NormKernels}: the GPU binding (ops/norm/NormCuda,
 * ops/conv/ConvCuda) and the host check (HostKernelGridTest) run these same sequences. Shapes are [n, c, hw].
 * Reference: ops/norm/BatchNorm*.java, GroupNorm*.java, ops/conv/BiasGrad.java.
 */
public final class NormSteps {
    // kinds of ls_norm_grad_k (LS_GRAD_* in norm.cuh)
    static final int GRAD_BN_X = 0;
    static final int GRAD_BN_Y = 1;
    static final int GRAD_BN_EVAL = 2;
    static final int GRAD_SUM = 3;
    static final int GRAD_GN_PLANE = 4;
    static final int GRAD_GN_PLANE_Y = 5;
    // kinds of ls_plane_affine_k (LS_AFF_* in norm.cuh)
    static final int AFF_BN_TRAIN = 0;
    static final int AFF_BN_EVAL = 1;
    static final int AFF_BN_DX = 2;
    static final int AFF_BN_DX_FROM_Y = 3;
    static final int AFF_BN_EVAL_DX = 4;
    static final int AFF_GN = 5;
    static final int AFF_GN_DX = 6;
    static final int AFF_BIAS = 7;
    static final int AFF_GN_DX_FROM_Y = 8;

    private NormSteps() {
    }

    @SafeVarargs
    private static <P> boolean aligned(NormKernels<P> k, P... ps) {
        return k.aligned(java.util.Arrays.asList(ps));
    }

    /** float4 path of the elementwise pass: whole planes of a multiple of 4 floats, aligned pointers. */
    @SafeVarargs
    private static <P> boolean vec(NormKernels<P> k, int hw, P... ps) {
        return hw % 4 == 0 && k.aligned(java.util.Arrays.asList(ps));
    }

    /**
     * Training forward: statistics, then y (y may be x: the statistics launch has read all of x first).
     * runMean/runVar null: REPLAY, the running statistics stay as they are.
     */
    public static <P> void batchNormTrain(NormKernels<P> k, int n, int c, int hw, P x, P gamma, P beta, P runMean, P runVar,
                                          double eps, double momentum, P y, P saveMean, P saveInvStd) {
        k.beginOp(0);
        k.stats(NormGrid.batchNorm(n, c, hw, aligned(k, x)), x, saveMean, saveInvStd, runMean, runVar, eps, momentum);
        k.affine(AFF_BN_TRAIN, n * c, c, hw, 0, (long) n * hw, vec(k, hw, x, y), null, x, y, saveMean, saveInvStd, gamma, beta,
                null, 0);
    }

    /** Eval forward with the running statistics. */
    public static <P> void batchNormEval(NormKernels<P> k, int n, int c, int hw, P x, P gamma, P beta, P runMean, P runVar,
                                         double eps, P y) {
        k.beginOp(0);
        k.affine(AFF_BN_EVAL, n * c, c, hw, 0, (long) n * hw, vec(k, hw, x, y), null, x, y, runMean, runVar, gamma, beta, null,
                eps);
    }

    /** Training backward from x: dGamma, dBeta, then dX. */
    public static <P> void batchNormBackward(NormKernels<P> k, int n, int c, int hw, P x, P gamma, P saveMean, P saveInvStd,
                                             P dy, P dx, P dGamma, P dBeta) {
        k.beginOp(0);
        k.grad(NormGrid.batchNorm(n, c, hw, aligned(k, x, dy)), GRAD_BN_X, c, 0, x, dy, saveMean, saveInvStd, 0, dBeta, dGamma);
        k.affine(AFF_BN_DX, n * c, c, hw, 0, (long) n * hw, vec(k, hw, x, dy, dx), dy, x, dx, saveMean, saveInvStd, gamma, dGamma,
                dBeta, 0);
    }

    /** In-place BN backward from its output y (Note [In-place BN backward]); dx may be dy. */
    public static <P> void batchNormBackwardFromOutput(NormKernels<P> k, int n, int c, int hw, P y, P gamma, P beta,
                                                       P saveInvStd, P dy, P dx, P dGamma, P dBeta) {
        k.beginOp(0);
        k.grad(NormGrid.batchNorm(n, c, hw, aligned(k, y, dy)), GRAD_BN_Y, c, 0, y, dy, beta, gamma, 0, dBeta, dGamma);
        k.affine(AFF_BN_DX_FROM_Y, n * c, c, hw, 0, (long) n * hw, vec(k, hw, y, dy, dx), dy, y, dx, beta, saveInvStd, gamma,
                dGamma, dBeta, 0);
    }

    /** Eval-mode backward: dGamma, dBeta from the running statistics, dX = dy * gamma / sqrt(runVar + eps). */
    public static <P> void batchNormEvalBackward(NormKernels<P> k, int n, int c, int hw, P x, P gamma, P runMean, P runVar,
                                                 double eps, P dy, P dx, P dGamma, P dBeta) {
        k.beginOp(0);
        k.grad(NormGrid.batchNorm(n, c, hw, aligned(k, x, dy)), GRAD_BN_EVAL, c, 0, x, dy, runMean, runVar, eps, dBeta, dGamma);
        k.affine(AFF_BN_EVAL_DX, n * c, c, hw, 0, (long) n * hw, vec(k, hw, dy, dx), dy, null, dx, null, runVar, gamma, null, null,
                eps);
    }

    /** Group norm forward: statistics per (sample, group), then y (may be x). */
    public static <P> void groupNorm(NormKernels<P> k, int n, int c, int hw, int groups, double eps, P x, P gamma, P beta, P y,
                                     P saveMean, P saveInvStd) {
        k.beginOp(0);
        k.stats(NormGrid.groupNorm(n, c, hw, groups, aligned(k, x)), x, saveMean, saveInvStd, null, null, eps, 0);
        k.affine(AFF_GN, n * c, c, hw, groups, (long) (c / groups) * hw, vec(k, hw, x, y), null, x, y, saveMean, saveInvStd, gamma,
                beta, null, 0);
    }

    /** Group norm backward from x: plane sums, then dGamma, dBeta and the group means (one block), then dX. */
    public static <P> void groupNormBackward(NormKernels<P> k, int n, int c, int hw, int groups, P x, P gamma, P saveMean,
                                             P saveInvStd, P dy, P dx, P dGamma, P dBeta) {
        // plane sums with xhat = (x - mean) * invStd, per (sample, group)
        groupNormBackward(k, n, c, hw, groups, GRAD_GN_PLANE, AFF_GN_DX, x, gamma, saveMean, saveInvStd, saveMean, saveInvStd, dy, dx,
                dGamma, dBeta);
    }

    /** Plane sums (grad kind {@code gradKind} over v with p0, p1), dGamma, dBeta and the group means, then dX (kind {@code dxKind}). */
    private static <P> void groupNormBackward(NormKernels<P> k, int n, int c, int hw, int groups, int gradKind, int dxKind, P v, P gamma,
                                              P p0, P p1, P center, P saveInvStd, P dy, P dx, P dGamma, P dBeta) {
        long planes = (long) n * c;
        k.beginOp(2 * planes + 2L * n * groups);
        P planeDy = k.temp(planes);
        P planeDyXhat = k.temp(planes);
        P gs = k.temp(2L * n * groups);
        k.grad(NormGrid.perPlane(n, c, hw, aligned(k, v, dy)), gradKind, c, groups, v, dy, p0, p1, 0, planeDy, planeDyXhat);
        k.gnGradFinish(n, c, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs);
        k.affine(dxKind, n * c, c, hw, groups, (long) (c / groups) * hw, vec(k, hw, v, dy, dx), dy, v, dx, center, saveInvStd, gamma,
                gs, null, 0);
    }

    /**
     * In-place group norm backward from its output y (Note [In-place GN backward]): plane sums with xhat = (y - beta) /
     * gamma, then dGamma, dBeta and the group means (one block), then dX; dx may be dy.
     */
    public static <P> void groupNormBackwardFromOutput(NormKernels<P> k, int n, int c, int hw, int groups, P y, P gamma, P beta,
                                                       P saveInvStd, P dy, P dx, P dGamma, P dBeta) {
        groupNormBackward(k, n, c, hw, groups, GRAD_GN_PLANE_Y, AFF_GN_DX_FROM_Y, y, gamma, beta, gamma, beta, saveInvStd, dy, dx,
                dGamma, dBeta);
    }

    /** Conv bias: y[n, c, :] += bias[c], in place. */
    public static <P> void biasAdd(NormKernels<P> k, int n, int c, int hw, P bias, P y) {
        k.beginOp(0);
        k.affine(AFF_BIAS, n * c, c, hw, 0, hw, vec(k, hw, y), null, y, y, bias, null, null, null, null, 0);
    }

    /** Conv bias gradient: dB[c] = sum of dY[:, c, :]. */
    public static <P> void biasGrad(NormKernels<P> k, int n, int c, int hw, P dy, P dBias) {
        k.beginOp(0);
        k.grad(NormGrid.batchNorm(n, c, hw, aligned(k, dy)), GRAD_SUM, c, 0, null, dy, null, null, 0, dBias, null);
    }
}
