package org.leanseg.ops.optim;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/**
 * CUDA binding of {@link AdamW} (kernel ls_adamw_k in src/main/cuda/elementwise.cu, math ls_adamw in
 * elementwise.cuh, also checked on the CPU by HostKernelMathTest); the hyper input [lr, 1 - beta1^t,
 * 1 - beta2^t] is read on the device.
 */
public final class AdamWCuda {
    private AdamWCuda() {
    }

    /** in = {param, grad, m, v, hyper}; no outputs (param, m, v updated; grad zeroed with zeroGrad). */
    public static void run(AdamW op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = in[0].numel();
        gpu.launch("ls_adamw_k", n, n, in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[4].address(),
                op.lrScale(), op.beta1(), op.beta2(), op.eps(), op.weightDecay(), op.zeroGrad() ? 1 : 0);
    }
}
