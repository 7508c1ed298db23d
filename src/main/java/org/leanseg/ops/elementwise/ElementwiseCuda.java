package org.leanseg.ops.elementwise;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/**
 * CUDA bindings of the elementwise ops (kernels in src/main/cuda/elementwise.cu, per-element math in
 * elementwise.cuh). Reference: the ops' own {@code reference} kernels. Check: {@code CudaOpsParityTest}.
 */
public final class ElementwiseCuda {
    private ElementwiseCuda() {
    }

    public static void add(Add op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        gpu.launch("ls_add_k", n, n, in[0].address(), in[1].address(), out[0].address());
        for (int k = 2; k < in.length; k++) {
            gpu.launch("ls_add_k", n, n, out[0].address(), in[k].address(), out[0].address());
        }
    }

    public static void scale(Scale op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        gpu.launch("ls_scale_k", n, n, op.factor(), in[0].address(), out[0].address());
    }

    public static void fill(Fill op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        gpu.launch("ls_fill_k", n, n, op.value(), out[0].address());
    }

    public static void accumulate(AccumulateInto op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = in[0].numel();
        gpu.launch("ls_accumulate_k", n, n, in[0].address(), in[1].address());
    }

    public static void activation(Activation op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        gpu.launch("ls_act_forward_k", n, n, op.kind().cap(), in[0].address(), out[0].address());
    }

    public static void activationBackward(ActivationBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        gpu.launch("ls_act_backward_k", n, n, op.kind().cap(), in[0].address(), in[1].address(), out[0].address());
    }
}
