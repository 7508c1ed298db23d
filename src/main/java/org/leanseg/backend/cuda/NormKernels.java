package org.leanseg.backend.cuda;

/**
 * The norm kernels of src/main/cuda/norm.cu as calls over buffers of type {@code P}: device addresses
 * ({@link Long}, {@code CudaNormKernels}) on the GPU, float arrays on the host (the test build of the same
 * kernel bodies). {@link NormSteps} writes each op as a sequence of these calls once, so the GPU binding and
 * the host check run the same launches with the same grids and arguments. A null {@code P} is a null pointer.
 */
public interface NormKernels<P> {
    /** ls_norm_stats_k over grid {@code g}. */
    void stats(NormGrid g, P x, P saveMean, P saveInvStd, P runMean, P runVar, double eps, double momentum);

    /** ls_norm_grad_k over grid {@code g}, kind LS_GRAD_* ({@link NormSteps}). */
    void grad(NormGrid g, int kind, int c, int groups, P v, P dy, P p0, P p1, double eps, P out0, P out1);

    /** ls_gn_grad_finish_k, one block. */
    void gnGradFinish(int n, int c, int groups, int hw, P gamma, P planeDy, P planeDyXhat, P dGamma, P dBeta, P gs);

    /**
     * ls_plane_affine_k over planes [planes, hw], kind LS_AFF_* ({@link NormSteps}); {@code vec}: every pointer
     * 16-byte aligned and hw % 4 == 0 (float4 loads and stores).
     */
    void affine(int kind, int planes, int c, int hw, int groups, long perSet, boolean vec, P u, P v, P out, P p0, P p1, P p2,
                P p3, P p4, double eps);

    /** Scratch of {@code floats} floats valid for the rest of the op (after {@link #beginOp}). */
    P temp(long floats);

    /** Starts an op that will take {@code tempFloats} floats of {@link #temp} at most. */
    void beginOp(long tempFloats);

    /** Whether every buffer given is 16-byte aligned (float4 loads). */
    boolean aligned(java.util.List<P> buffers);
}
