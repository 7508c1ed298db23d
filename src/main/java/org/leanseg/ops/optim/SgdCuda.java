package org.leanseg.ops.optim;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/** CUDA binding of {@link Sgd} (kernel ls_sgd_k in src/main/cuda/elementwise.cu; the lr is read on the device). */
public final class SgdCuda {
    private SgdCuda() {
    }

    public static void run(Sgd op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = in[0].numel();
        gpu.launch("ls_sgd_k", n, n, in[0].address(), in[1].address(), in[2].address(), in[3].address(), op.lrScale(),
                op.momentum(), op.weightDecay(), op.nesterov() ? 1 : 0, op.zeroGrad() ? 1 : 0);
    }
}
