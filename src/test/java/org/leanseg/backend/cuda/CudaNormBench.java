package org.leanseg.backend.cuda;

import java.util.Random;
import org.leanseg.backend.Buffer;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Kernel benchmark of the norm kernels on the GPU (not a test: timings stay out of tests): BN training forward
 * (statistics + apply), backward from x, backward from the output with dX over dY, on DeepLabV3+ MobileNetV2
 * shapes at 512x512, against the device's copy bandwidth measured in the same run (a device-to-device copy of
 * the same bytes). Effective bandwidth = bytes the op must move at least / device time (CUDA events, mean of
 * {@code reps} back-to-back launches): forward reads x twice and writes y (3 tensors), backward reads x and dY
 * twice and writes dX (5). Issue 15 target: forward and backward at 70 % or more of the copy bandwidth.
 * {@code java -cp ... org.leanseg.backend.cuda.CudaNormBench 8 50}
 */
public final class CudaNormBench {
    private CudaNormBench() {
    }

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        int[][] layers = {{32, 256}, {96, 256}, {24, 128}, {144, 128}, {32, 64}, {192, 64}, {576, 32}, {320, 32}, {256, 32}, {48, 128},
                {256, 128}};
        Random rnd = new Random(1);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            CudaNormKernels k = new CudaNormKernels(gpu);
            System.out.printf("%-14s %10s %10s %10s %10s %8s %8s %8s%n", "batch N, C, HW", "MiB", "copy GB/s", "fwd GB/s", "bwd GB/s",
                    "fwd %", "bwd %", "bwdY %");
            for (int[] l : layers) {
                int c = l[0];
                int hw = l[1] * l[1];
                long numel = (long) batch * c * hw;
                long bytes = 4 * numel;
                Buffer x = gpu.allocate(bytes);
                Buffer y = gpu.allocate(bytes);
                Buffer dy = gpu.allocate(bytes);
                Buffer dx = gpu.allocate(bytes);
                Buffer small = gpu.allocate(4L * 8 * c);
                long sp = ((CudaBuffer) small).address();
                long gamma = sp;
                long beta = sp + 4L * c;
                long rm = sp + 8L * c;
                long rv = sp + 12L * c;
                long mean = sp + 16L * c;
                long invStd = sp + 20L * c;
                long dGamma = sp + 24L * c;
                long dBeta = sp + 28L * c;
                gpu.upload(Tensor.gaussian(Shape.of((int) numel), 1, rnd), gpu.view(x, 0, TensorSpec.f32((int) numel)));
                gpu.upload(Tensor.gaussian(Shape.of((int) numel), 1, rnd), gpu.view(dy, 0, TensorSpec.f32((int) numel)));
                Tensor ones = Tensor.uniform(Shape.of(8 * c), 0.5, 1.5, rnd);
                gpu.upload(ones, gpu.view(small, 0, TensorSpec.f32(8 * c)));
                long xa = ((CudaBuffer) x).address();
                long ya = ((CudaBuffer) y).address();
                long dya = ((CudaBuffer) dy).address();
                long dxa = ((CudaBuffer) dx).address();
                Runnable fwd = () -> NormSteps.batchNormTrain(k, batch, c, hw, xa, gamma, beta, rm, rv, 1e-5, 0.1, ya, mean, invStd);
                Runnable bwd = () -> NormSteps.batchNormBackward(k, batch, c, hw, xa, gamma, mean, invStd, dya, dxa, dGamma, dBeta);
                Runnable bwdY = () -> NormSteps.batchNormBackwardFromOutput(k, batch, c, hw, ya, gamma, beta, invStd, dxa, dxa, dGamma,
                        dBeta);
                Runnable copy = () -> gpu.copyDevice(ya, xa, bytes);
                for (Runnable r : new Runnable[] {fwd, bwd, bwdY, copy}) {
                    gpu.deviceMs(r, 3);   // warm-up (module load, scratch growth)
                }
                double copyMs = gpu.deviceMs(copy, reps);
                double fwdMs = gpu.deviceMs(fwd, reps);
                double bwdMs = gpu.deviceMs(bwd, reps);
                double bwdYMs = gpu.deviceMs(bwdY, reps);
                double copyGbs = 2.0 * bytes / copyMs / 1e6;
                double fwdGbs = 3.0 * bytes / fwdMs / 1e6;
                double bwdGbs = 5.0 * bytes / bwdMs / 1e6;
                double bwdYGbs = 5.0 * bytes / bwdYMs / 1e6;
                System.out.printf("%d,%4d,%6d %10.1f %10.0f %10.0f %10.0f %7.0f%% %7.0f%% %7.0f%%%n", batch, c, hw, bytes / 1048576.0, copyGbs,
                        fwdGbs, bwdGbs, 100 * fwdGbs / copyGbs, 100 * bwdGbs / copyGbs, 100 * bwdYGbs / copyGbs);
                for (Buffer b : new Buffer[] {x, y, dy, dx, small}) {
                    gpu.free(b);
                }
            }
        }
    }
}
