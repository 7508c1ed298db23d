package org.leanseg.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link NormKernels} on the host: each call runs the kernel's body over its real grid through {@link HostMath}
 * (src/main/cpp/hostgrid.cpp), blocks and threads in the order {@code schedule} draws. Records every launch
 * (kernel and grid) for the tests. {@code maxGridY} > 0 caps grid y below the sets (to drive the kernels'
 * striding past 65,535 sets with small shapes).
 */
final class HostNormKernels implements NormKernels<float[]> {
    private final long schedule;
    private final int maxGridY;
    private final int dt;
    final List<String> launches = new ArrayList<>();

    HostNormKernels(long schedule, int maxGridY) {
        this(schedule, maxGridY, 0);
    }

    /** With the activations in storage type {@code dt} (Note [16-bit norm kernels]: 1 bfloat16, 2 binary16), as CudaNormKernels. */
    HostNormKernels(long schedule, int maxGridY, int dt) {
        this.schedule = schedule;
        this.maxGridY = maxGridY;
        this.dt = dt;
    }

    private int capY(int gy) {
        return maxGridY > 0 ? Math.min(gy, maxGridY) : gy;
    }

    private long[] geom(NormGrid g) {
        return new long[] {g.sets(), g.chunks(), g.planes(), g.hw(), g.segLen(), g.segs(), g.setStride(), g.planeStride(),
                g.vec() ? 1 : 0, g.gridX(), capY(g.gridY())};
    }

    @Override
    public void stats(NormGrid g, float[] x, float[] saveMean, float[] saveInvStd, float[] runMean, float[] runVar, double eps,
                      double momentum) {
        launches.add("ls_norm_stats_k " + g);
        HostMath.normStats(geom(g), x, saveMean, saveInvStd, runMean, runVar, eps, momentum, schedule, dt);
    }

    @Override
    public void grad(NormGrid g, int kind, int c, int groups, float[] v, float[] dy, float[] p0, float[] p1, double eps, float[] out0,
                     float[] out1) {
        launches.add("ls_norm_grad_k kind " + kind + " " + g);
        HostMath.normGrad(geom(g), kind, c, groups, v, dy, p0, p1, eps, out0, out1, schedule, dt);
    }

    @Override
    public void gnGradFinish(int n, int c, int groups, int hw, float[] gamma, float[] planeDy, float[] planeDyXhat, float[] dGamma,
                             float[] dBeta, float[] gs) {
        launches.add("ls_gn_grad_finish_k");
        HostMath.gnGradFinish(n, c, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs, schedule);
    }

    @Override
    public void affine(int kind, int planes, int c, int hw, int groups, long perSet, boolean vec, float[] u, float[] v, float[] out,
                       float[] p0, float[] p1, float[] p2, float[] p3, float[] p4, double eps) {
        int gx = NormGrid.planeGridX(hw);
        int gy = capY(NormGrid.planeGridY(planes));
        launches.add("ls_plane_affine_k kind " + kind + " grid " + gx + "x" + gy + (vec ? " vec" : ""));
        HostMath.planeAffine(kind, planes, c, hw, groups, perSet, vec, u, v, out, p0, p1, p2, p3, p4, eps, gx, gy, schedule, dt);
    }

    @Override
    public float[] temp(long floats) {
        float[] t = new float[Math.toIntExact(floats)];
        java.util.Arrays.fill(t, Float.NaN);   // as uninitialised device memory: every value must be written before it is read
        return t;
    }

    @Override
    public void beginOp(long tempFloats) {
    }

    @Override
    public boolean aligned(List<float[]> buffers) {
        return dt == 0;   // hostgrid.cpp copies every array to a 64-byte aligned block; 16-bit data takes no float4 path
    }
}
