package org.leanseg.backend.cuda;

import java.util.Random;
import org.leanseg.backend.Buffer;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Kernel benchmark of the tiled depthwise kernels (Note [Depthwise kernels by tiles] in dw.cuh) on the GPU (not a
 * test: timings stay out of tests): forward with ReLU6 fused, data gradient, filter gradient with ReLU6 fused, on
 * the 3x3 depthwise layers of DeepLabV3+ MobileNetV2 and Xception-65 at 512x512, against the device's copy
 * bandwidth measured in the same run (a device-to-device copy of the input's bytes) and against cuDNN's grouped
 * convolution on the same shape (the path depthwise convolutions took before). Effective bandwidth = bytes the op
 * must move at least / device time (CUDA events, mean of {@code reps} back-to-back launches): forward reads z and
 * writes y, the data gradient reads dY and writes dX, the filter gradient reads z and dY. Issue 15 targets: forward
 * at 70 % of the copy bandwidth or more, backward at 60 % or more.
 * {@code java -cp ... org.leanseg.backend.cuda.CudaDwBench 8 50}
 */
public final class CudaDwBench {
    private CudaDwBench() {
    }

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        // {channels, input side, stride, dilation}: MobileNetV2 then Xception-65 (512x512, output stride 16)
        int[][] layers = {{32, 256, 1, 1}, {96, 256, 2, 1}, {144, 128, 1, 1}, {144, 128, 2, 1}, {192, 64, 1, 1}, {384, 32, 1, 1},
                {576, 32, 1, 2}, {960, 32, 1, 2}, {64, 256, 1, 1}, {128, 256, 2, 1}, {256, 128, 2, 1}, {728, 32, 1, 1},
                {1536, 32, 1, 2}};
        Random rnd = new Random(1);
        float cap = 6f;
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            System.out.printf("%-22s %8s %9s %9s %9s %9s %7s %7s %7s %9s %9s %9s %9s %9s%n", "N,C,side,s,d", "MiB in", "copy GB/s",
                    "fwd GB/s", "bwdD GB/s", "bwdW GB/s", "fwd %", "bwdD %", "bwdW %", "cudnn fwd", "cudnn bD", "cudnn bW", "old fwd",
                    "old bW");
            for (int[] l : layers) {
                int c = l[0];
                int side = l[1];
                int s = l[2];
                int d = l[3];
                int out = (side - 1) / s + 1;
                long inNumel = (long) batch * c * side * side;
                long outNumel = (long) batch * c * out * out;
                Buffer z = gpu.allocate(4 * inNumel);
                Buffer dx = gpu.allocate(4 * inNumel);
                Buffer y = gpu.allocate(4 * outNumel);
                Buffer dy = gpu.allocate(4 * outNumel);
                Buffer w = gpu.allocate(4L * 9 * c);
                Buffer dw = gpu.allocate(4L * 9 * c);
                gpu.upload(Tensor.gaussian(Shape.of((int) inNumel), 1, rnd), gpu.view(z, 0, TensorSpec.f32((int) inNumel)));
                gpu.upload(Tensor.gaussian(Shape.of((int) outNumel), 1, rnd), gpu.view(dy, 0, TensorSpec.f32((int) outNumel)));
                gpu.upload(Tensor.gaussian(Shape.of(9 * c), 1, rnd), gpu.view(w, 0, TensorSpec.f32(9 * c)));
                long za = ((CudaBuffer) z).address();
                long dxa = ((CudaBuffer) dx).address();
                long ya = ((CudaBuffer) y).address();
                long dya = ((CudaBuffer) dy).address();
                long wa = ((CudaBuffer) w).address();
                long dwa = ((CudaBuffer) dw).address();
                DwGrid f = DwGrid.forward(batch, c, 1, side, side, out, out, 3, 3, s, s, d, d, d, d, true);
                DwGrid b = DwGrid.backwardData(batch, c, 1, side, side, out, out, 3, 3, s, s, d, d, d, d);
                DwGrid g = DwGrid.filter(batch, c, 1, side, side, out, out, 3, 3, s, s, d, d, d, d, true);
                ConvShape shape = new ConvShape(batch, c, side, side, c, 3, 3, out, out, s, s, d, d, d, d, c);
                Runnable fwd = () -> gpu.launchGrid("ls_dw_forward_k", f.gridX(), f.gridY(), DwGrid.BLOCK, f.args(cap, za, wa, 0L, ya, 0));
                Runnable bwdD = () -> gpu.launchGrid("ls_dw_backward_data_k", b.gridX(), b.gridY(), DwGrid.BLOCK, b.args(dya, wa, dxa, 0));
                Runnable bwdW = () -> {
                    long counters = gpu.normScratch(g.c(), g.partialFloats());
                    gpu.launchGrid("ls_dw_filter_k", g.gridX(), g.gridY(), DwGrid.BLOCK, g.args(cap, za, dya, dwa, counters + gpu.normFloatsOffset(),
                            counters, 0));
                };
                Runnable copy = () -> gpu.copyDevice(dxa, za, 4 * inNumel);
                Runnable cf = () -> gpu.convForward(shape, za, wa, ya);
                Runnable cbd = () -> gpu.convBackwardData(shape, dya, wa, dxa);
                Runnable cbw = () -> gpu.convBackwardFilter(shape, za, dya, dwa);
                // the fused kernels the tiled ones replace: one thread per output, one block per (channel, tap)
                long total = outNumel;
                Runnable oldFwd = () -> gpu.launch("ls_act_dw_forward_k", total, total, c, 1, side, side, out, out, 3, 3, s, s, d, d, d, d, cap,
                        za, wa, 0L, ya);
                Runnable oldBwdW = () -> gpu.launchBlocks("ls_act_dw_filter_k", c * 9, batch, c, 1, side, side, out, out, 3, 3, s, s, d, d,
                        d, d, cap, za, dya, dwa);
                for (Runnable r : new Runnable[] {fwd, bwdD, bwdW, copy, cf, cbd, cbw, oldFwd, oldBwdW}) {
                    gpu.deviceMs(r, 3);   // warm-up (module load, scratch growth, cuDNN algorithm choice)
                }
                double copyGbs = 2.0 * 4 * inNumel / gpu.deviceMs(copy, reps) / 1e6;
                double moved = 4.0 * (inNumel + outNumel);
                double fwdMs = gpu.deviceMs(fwd, reps);
                double bwdDMs = gpu.deviceMs(bwdD, reps);
                double bwdWMs = gpu.deviceMs(bwdW, reps);
                double cfMs = gpu.deviceMs(cf, reps);
                double cbdMs = gpu.deviceMs(cbd, reps);
                double cbwMs = gpu.deviceMs(cbw, reps);
                double oldFwdMs = gpu.deviceMs(oldFwd, reps);
                double oldBwdWMs = gpu.deviceMs(oldBwdW, reps);
                double fwdGbs = moved / fwdMs / 1e6;
                double bwdDGbs = moved / bwdDMs / 1e6;
                double bwdWGbs = moved / bwdWMs / 1e6;
                System.out.printf("%-22s %8.1f %9.0f %9.0f %9.0f %9.0f %6.0f%% %6.0f%% %6.0f%% %8.2fx %8.2fx %8.2fx %8.2fx %8.2fx%n",
                        batch + "," + c + "," + side + "," + s + "," + d, 4.0 * inNumel / 1048576, copyGbs, fwdGbs, bwdDGbs, bwdWGbs,
                        100 * fwdGbs / copyGbs, 100 * bwdDGbs / copyGbs, 100 * bwdWGbs / copyGbs, cfMs / fwdMs, cbdMs / bwdDMs, cbwMs / bwdWMs,
                        oldFwdMs / fwdMs, oldBwdWMs / bwdWMs);
                for (Buffer buf : new Buffer[] {z, dx, y, dy, w, dw}) {
                    gpu.free(buf);
                }
            }
            System.out.println("cudnn columns: cuDNN's time / ours on the same shape (> 1: ours faster; cuDNN without the fused ReLU6);"
                    + " old columns: the one-thread-per-output forward and one-block-per-tap filter gradient / the tiled kernels");
        }
    }
}
