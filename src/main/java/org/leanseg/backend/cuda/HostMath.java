package org.leanseg.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The CUDA kernels' arithmetic compiled for the CPU: the {@code __host__ __device__} functions of
 * src/main/cuda/*.cuh built by g++ into a JNI library (src/main/cpp/hostmath.cpp, built by
 * build-hostmath.sh during the Maven build, resource {@value #RESOURCE}). Each method runs one whole op
 * the way its kernel does, sequentially, so {@code HostKernelMathTest} can check the kernels' math
 * against the reference backend on machines without a GPU. The norm kernels (normStats, normGrad,
 * gnGradFinish, planeAffine) instead run whole over their real grids: every block and thread, barriers kept
 * (src/main/cpp/hostgrid.cpp, checked by {@code HostKernelGridTest}). Not a backend: a test instrument.
 *
 * <p>Arrays in, arrays out: outputs are caller-allocated arrays written in place; in-place arguments
 * (running statistics, optimizer state) are updated. Never pass one array twice in a call (each is
 * copied in and back on its own). Shapes are flattened to N, C, HW (planes of HW elements).
 *
 * <pre>{@code
 * Assumptions.assumeTrue(HostMath.available(), HostMath.unavailableReason());
 * HostMath.sgd(p, g, buf, 0.1f, 1f, 0.9f, 1e-4f, false, true);
 * }</pre>
 */
public final class HostMath {
    static final String RESOURCE = "/native/linux-x86_64/libleanseg_hostmath.so";
    private static final String REASON = load();

    private HostMath() {
    }

    /** Whether the library is built for this machine and loaded. */
    public static boolean available() {
        return REASON == null;
    }

    /** One line: why the library is unavailable (null when it is available). */
    public static String unavailableReason() {
        return REASON;
    }

    private static String load() {
        String os = System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", "");
        if (!os.equals("Linux/amd64")) {
            return "the host build of the kernel math exists for Linux/amd64 only, this is " + os;
        }
        URL url = HostMath.class.getResource(RESOURCE);
        if (url == null) {
            return "the host build of the kernel math is missing (" + RESOURCE + "): built without g++";
        }
        try {
            Path lib;
            if ("file".equals(url.getProtocol())) {
                lib = Path.of(url.toURI());
            } else {
                lib = Files.createTempFile("leanseg_hostmath", ".so");
                lib.toFile().deleteOnExit();
                try (InputStream in = url.openStream()) {
                    Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            System.load(lib.toAbsolutePath().toString());
            return null;
        } catch (IOException | URISyntaxException | UnsatisfiedLinkError e) {
            return "cannot load the host build of the kernel math: " + e;
        }
    }

    /**
     * ls_norm_stats_k run on the host over the grid {@code geom} = {sets, chunks, planes, hw, segLen, segs, setStride,
     * planeStride, vec, gridX, gridY} ({@link NormGrid}); blocks and threads in the order {@code schedule} draws
     * (0: index order). Throws IllegalStateException on barrier misuse, a write out of bounds or a counter left
     * non-zero.
     */
    public static native void normStats(long[] geom, float[] x, float[] saveMean, float[] saveInvStd, float[] runMean,
                                        float[] runVar, double eps, double momentum, long schedule, int dt);

    /** ls_norm_grad_k on the host, as {@link #normStats}. */
    public static native void normGrad(long[] geom, int kind, int c, int groups, float[] v, float[] dy, float[] p0, float[] p1,
                                       double eps, float[] out0, float[] out1, long schedule, int dt);

    /** ls_gn_grad_finish_k on the host (one block). */
    public static native void gnGradFinish(int n, int c, int groups, int hw, float[] gamma, float[] planeDy, float[] planeDyXhat,
                                           float[] dGamma, float[] dBeta, float[] gs, long schedule);

    /** ls_plane_affine_k on the host over grid (gridX, gridY). */
    public static native void planeAffine(int kind, int planes, int c, int hw, int groups, long perSet, boolean vec, float[] u,
                                          float[] v, float[] out, float[] p0, float[] p1, float[] p2, float[] p3, float[] p4,
                                          double eps, int gridX, int gridY, long schedule, int dt);

    /**
     * ls_dw_forward_k run on the host over its grid: {@code geom} = {@link DwGrid#hostGeometry} (the grid fields, then
     * grid x and y); blocks and threads in the order {@code schedule} draws. bias may be null; cap: the activation's
     * cap where the grid has one.
     */
    public static native void dwForward(long[] geom, float cap, float[] z, float[] w, float[] bias, float[] y, long schedule, int dt);

    /** ls_dw_backward_data_k on the host, as {@link #dwForward}. */
    public static native void dwBackwardData(long[] geom, float[] dy, float[] w, float[] dx, long schedule, int dt);

    /** ls_dw_filter_k on the host, as {@link #dwForward}; fails on a channel counter left non-zero. */
    public static native void dwFilter(long[] geom, float cap, float[] z, float[] dy, float[] dW, long schedule, int dt);

    /**
     * ls_up_ce_partial_k on the host over its grid ({@code geom} = {@link UpLossGrid#hostGeometry}): writes the
     * rowBlocks pairs (sum of w * nll, sum of w) into {@code partials}; returns the smallest bad label's flat pixel
     * index, or -1.
     */
    public static native long upCePartial(long[] geom, float[] z, float[] labels, float[] weights, double[] partials, long schedule,
                                          int dt);

    /** ls_up_ce_backward_k on the host: dz of the fused loss for dLoss and the valid pixels' weight total. */
    public static native void upCeBackward(long[] geom, float[] z, float[] labels, float[] weights, float dLoss, double total,
                                           float[] dz, long schedule, int dt);

    /** ls_up_argmax_k on the host over grid (gridX, 1): the eval mask of the upsampled logits, classes in float slots. */
    public static native void upArgmax(long[] geom, float[] z, float[] out, int gridX, long schedule, int dt);

    /**
     * ls_resize_rows_k (forward: src x [planes, inH, inW] to dst y [planes, outH, outW]) or ls_resize_backward_rows_k
     * (backward: src dY to dst dX) on the host over their grids, grid y capped at {@code maxGridY} when > 0.
     */
    public static native void resizeRows(boolean backward, int planes, int inH, int inW, int outH, int outW, boolean alignCorners,
                                         float[] src, float[] dst, int maxGridY, long schedule, int dt);

    /**
     * LsDivWalk (grid.cuh) on the host: walks start, start + stride, ... for {@code steps} steps, keeping (i / d, i % d)
     * and, over that quotient, (q / d2, q % d2) as ls_copy_channels_k does; returns the steps where either walk
     * disagrees with plain division (0 when right).
     */
    public static native long divWalkMismatches(long start, long stride, long d, long d2, int steps);

    /**
     * ActConv2d forward: y out; bias may be null. {@code geom} = {N, C, mult, H, W, Hout, Wout, kh, kw,
     * strideH, strideW, padH, padW, dilationH, dilationW}; {@code cap} = the activation's cap (+inf for ReLU).
     */
    public static native void actDepthwiseForward(float[] z, float[] w, float[] bias, int[] geom, float cap, float[] y);

    /** ActConv2dBackwardFilter: dW out; {@code geom} as {@link #actDepthwiseForward}. */
    public static native void actDepthwiseBackwardFilter(float[] z, float[] dy, int[] geom, float cap, float[] dW);

    /**
     * Softmax cross-entropy over logits [N, K, HW] and float-slot labels [N, HW]: returns the mean loss (NaN for
     * an invalid label) and writes dz for the upstream gradient dLoss; weights may be null.
     */
    public static native double crossEntropy(float[] z, float[] labels, int n, int k, int hw, int ignoreIndex, float[] weights,
                                             float dLoss, float[] dz, int dt);

    /** Bilinear taps of one axis: i0, i1 (exact small integers as floats), w0, w1, each of length {@code out}. */
    public static native void bilinearTaps(int in, int out, boolean alignCorners, float[] i0, float[] i1, double[] w0,
                                           double[] w1);

    /** Bilinear resize of planes [inH, inW] to [outH, outW] (forward), or its backward from dY to dX. */
    public static native void resize(boolean backward, float[] src, int planes, int inH, int inW, int outH, int outW,
                                     boolean alignCorners, float[] dst);

    /** Sgd: p and buf updated, g zeroed when zeroGrad. */
    public static native void sgd(float[] p, float[] g, float[] buf, float lr, float lrScale, float momentum, float weightDecay,
                                  boolean nesterov, boolean zeroGrad);

    /** AdamW: p, m, v updated, g zeroed when zeroGrad; hyper = [lr, 1 - beta1^t, 1 - beta2^t]. */
    public static native void adamw(float[] p, float[] g, float[] m, float[] v, float[] hyper, float lrScale, float beta1,
                                    float beta2, float eps, float weightDecay, boolean zeroGrad);

    /** ls_convert_k's conversion (half.cuh) of floats into 16-bit bits of storage type {@code type} (1 bfloat16, 2 binary16). */
    public static native void toBits(float[] x, int type, short[] bits);

    /** ls_convert_k's conversion of 16-bit bits of storage type {@code type} to floats. */
    public static native void fromBits(short[] bits, int type, float[] x);

    /** ls_loss_scale_update_k's update of the loss-scaling state [k, clean steps, skipped steps], in place. */
    public static native void lossScaleUpdate(float[] state, boolean found, int growthInterval, int initialLog2);

    /**
     * The typed elementwise kernels' element functions (elementwise.cuh) over 16-bit tensors of storage type
     * {@code type}: kind 0 activation (param = cap), 1 activation backward (in = y, dy), 2 add of {@code k} inputs,
     * 3 scale (param = factor), 4 accumulate into {@code out}; {@code in} holds the k inputs one after another.
     */
    public static native void elementwiseTyped(int kind, float param, int k, int type, short[] in, short[] out);
}
