package org.leanseg.backend.cuda;

/**
 * {@link NormKernels} on the GPU: launches the kernels of src/main/cuda/norm.cu on the backend's stream, with
 * the partial sums and counters in {@link CudaBackend#normScratch} and the op's temporaries in
 * {@link CudaBackend#normTemp}. Buffers are device addresses (0 = null).
 */
public final class CudaNormKernels implements NormKernels<Long> {
    private final CudaBackend gpu;
    private final int dt;
    private long tempBase;
    private long tempCap;
    private long tempUsed;

    public CudaNormKernels(CudaBackend gpu) {
        this(gpu, 0);
    }

    /**
     * With the activations (x, y, dy, dx) in storage type code {@code dt} ({@link CudaBackend#typeCode}; Note [16-bit norm
     * kernels] in norm.cuh): statistics and parameters stay float32; no float4 path.
     */
    public CudaNormKernels(CudaBackend gpu, int dt) {
        this.gpu = gpu;
        this.dt = dt;
    }

    private static long a(Long p) {
        return p == null ? 0L : p;
    }

    private long partials(NormGrid g) {
        return gpu.normScratch(g.sets(), g.partialFloats()) + gpu.normFloatsOffset();
    }

    private static Object[] concat(Object[] head, Object... tail) {
        Object[] all = new Object[head.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }

    /** Arguments of ls_norm_stats_k (addresses; 0 = null). */
    static Object[] statsArgs(NormGrid g, long x, long saveMean, long saveInvStd, long runMean, long runVar, double eps, double momentum,
                              long partials, long counters, int dt) {
        return concat(g.args(), x, saveMean, saveInvStd, runMean, runVar, eps, momentum, partials, counters, dt);
    }

    /** Arguments of ls_norm_grad_k. */
    static Object[] gradArgs(NormGrid g, int kind, int c, int groups, long v, long dy, long p0, long p1, double eps, long out0, long out1,
                             long partials, long counters, int dt) {
        return concat(g.args(), kind, c, groups, v, dy, p0, p1, eps, out0, out1, partials, counters, dt);
    }

    /** Arguments of ls_gn_grad_finish_k. */
    static Object[] gnGradFinishArgs(int n, int c, int groups, int hw, long gamma, long planeDy, long planeDyXhat, long dGamma, long dBeta,
                                     long gs) {
        return new Object[] {n, c, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs};
    }

    /** Arguments of ls_plane_affine_k. */
    static Object[] affineArgs(int kind, int planes, int c, int hw, int groups, long perSet, boolean vec, long u, long v, long out, long p0,
                               long p1, long p2, long p3, long p4, double eps, int dt) {
        return new Object[] {kind, planes, c, hw, groups, perSet, vec ? 1 : 0, u, v, out, p0, p1, p2, p3, p4, eps, dt};
    }

    @Override
    public void stats(NormGrid g, Long x, Long saveMean, Long saveInvStd, Long runMean, Long runVar, double eps, double momentum) {
        long partials = partials(g);
        long counters = gpu.normScratch(g.sets(), 0);
        gpu.launchGrid("ls_norm_stats_k", g.gridX(), g.gridY(), NormGrid.BLOCK, statsArgs(g, a(x), a(saveMean), a(saveInvStd), a(runMean),
                a(runVar), eps, momentum, partials, counters, dt));
    }

    @Override
    public void grad(NormGrid g, int kind, int c, int groups, Long v, Long dy, Long p0, Long p1, double eps, Long out0, Long out1) {
        long partials = partials(g);
        long counters = gpu.normScratch(g.sets(), 0);
        gpu.launchGrid("ls_norm_grad_k", g.gridX(), g.gridY(), NormGrid.BLOCK, gradArgs(g, kind, c, groups, a(v), a(dy), a(p0), a(p1), eps,
                a(out0), a(out1), partials, counters, dt));
    }

    @Override
    public void gnGradFinish(int n, int c, int groups, int hw, Long gamma, Long planeDy, Long planeDyXhat, Long dGamma, Long dBeta,
                             Long gs) {
        gpu.launchGrid("ls_gn_grad_finish_k", 1, 1, NormGrid.BLOCK, gnGradFinishArgs(n, c, groups, hw, a(gamma), a(planeDy),
                a(planeDyXhat), a(dGamma), a(dBeta), a(gs)));
    }

    @Override
    public void affine(int kind, int planes, int c, int hw, int groups, long perSet, boolean vec, Long u, Long v, Long out, Long p0,
                       Long p1, Long p2, Long p3, Long p4, double eps) {
        gpu.launchGrid("ls_plane_affine_k", NormGrid.planeGridX(hw), NormGrid.planeGridY(planes), NormGrid.BLOCK, affineArgs(kind, planes,
                c, hw, groups, perSet, vec, a(u), a(v), a(out), a(p0), a(p1), a(p2), a(p3), a(p4), eps, dt));
    }

    @Override
    public void beginOp(long tempFloats) {
        tempCap = tempFloats;
        tempUsed = 0;
        tempBase = tempFloats > 0 ? gpu.normTemp(tempFloats) : 0L;
    }

    @Override
    public Long temp(long floats) {
        if (tempUsed + floats > tempCap) {
            throw new IllegalStateException("norm temporaries: " + (tempUsed + floats) + " floats, " + tempCap + " reserved");
        }
        long at = tempBase + 4 * tempUsed;
        tempUsed += floats;
        return at;
    }

    @Override
    public boolean aligned(java.util.List<Long> buffers) {
        if (dt != 0) {
            return false;   // Note [16-bit norm kernels]: no float4 path
        }
        for (Long b : buffers) {
            if (b != null && b % 16 != 0) {
                return false;
            }
        }
        return true;
    }
}
