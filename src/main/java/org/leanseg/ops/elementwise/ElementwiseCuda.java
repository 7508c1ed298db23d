package org.leanseg.ops.elementwise;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/**
 * CUDA bindings of the elementwise ops (kernels in src/main/cuda/elementwise.cu, per-element math in
 * elementwise.cuh). Reference: the ops' own {@code reference} kernels. Check: {@code CudaOpsParityTest}.
 * Views of a 16-bit type (Note [Mixed precision]) take the {@code *_t_k} kernels, which load each element to
 * float and round what they store (CudaMixedPrecisionTest on a GPU; the op table marks them untested there).
 */
public final class ElementwiseCuda {
    private ElementwiseCuda() {
    }

    /** Inputs of one Add that the typed kernel sums in one pass. */
    public static final int ADD_INPUTS = 8;

    private static boolean anyHalf(CudaView[]... views) {
        for (CudaView[] vs : views) {
            for (CudaView v : vs) {
                if (v.spec().dtype().isHalf()) {
                    return true;
                }
            }
        }
        return false;
    }

    private static int t(CudaView v) {
        return CudaBackend.typeCode(v.spec());
    }

    /** ls_add_t_k's arguments: {@code k <= 8} inputs of type code {@code type} summed into {@code y}. */
    public static Object[] addTypedArgs(long n, int type, long[] x, long y, int ty) {
        Object[] a = new Object[5 + ADD_INPUTS];
        a[0] = n;
        a[1] = x.length;
        a[2] = type;
        for (int j = 0; j < ADD_INPUTS; j++) {
            a[3 + j] = j < x.length ? x[j] : 0L;
        }
        a[3 + ADD_INPUTS] = y;
        a[4 + ADD_INPUTS] = ty;
        return a;
    }

    /** The plan's workspace of an add on cuda: float32 copies of a 16-bit add of more than {@link #ADD_INPUTS} inputs. */
    public static long addWorkspace(Add op, java.util.List<org.leanseg.tensor.TensorSpec> in) {
        if (in.size() <= ADD_INPUTS || !in.get(0).dtype().isHalf()) {
            return 0;
        }
        return (in.size() + 1) * org.leanseg.memory.Planner.align(4L * in.get(0).shape().numel());
    }

    public static void add(Add op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        if (anyHalf(in, out)) {
            if (in.length > ADD_INPUTS) {   // more than one pass would round in between: float32 copies (Note [Widened 16-bit runs])
                org.leanseg.ops.Ops.runWidened(gpu, op, in, out);
                return;
            }
            long[] x = new long[in.length];
            for (int j = 0; j < x.length; j++) {
                x[j] = in[j].address();
            }
            gpu.launch("ls_add_t_k", n, addTypedArgs(n, t(in[0]), x, out[0].address(), t(out[0])));
            return;
        }
        gpu.launch("ls_add_k", n, n, in[0].address(), in[1].address(), out[0].address());
        for (int k = 2; k < in.length; k++) {
            gpu.launch("ls_add_k", n, n, out[0].address(), in[k].address(), out[0].address());
        }
    }

    public static void scale(Scale op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        if (anyHalf(in, out)) {
            gpu.launch("ls_scale_t_k", n, n, op.factor(), in[0].address(), t(in[0]), out[0].address(), t(out[0]));
            return;
        }
        gpu.launch("ls_scale_k", n, n, op.factor(), in[0].address(), out[0].address());
    }

    public static void fill(Fill op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        if (anyHalf(out)) {
            gpu.launch("ls_fill_t_k", n, n, op.value(), out[0].address(), t(out[0]));
            return;
        }
        gpu.launch("ls_fill_k", n, n, op.value(), out[0].address());
    }

    public static void accumulate(AccumulateInto op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = in[0].numel();
        if (anyHalf(in)) {
            gpu.launch("ls_accumulate_t_k", n, n, in[0].address(), t(in[0]), in[1].address(), t(in[1]));
            return;
        }
        gpu.launch("ls_accumulate_k", n, n, in[0].address(), in[1].address());
    }

    public static void activation(Activation op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        if (anyHalf(in, out)) {
            gpu.launch("ls_act_forward_t_k", n, n, op.kind().cap(), in[0].address(), t(in[0]), out[0].address(), t(out[0]));
            return;
        }
        gpu.launch("ls_act_forward_k", n, n, op.kind().cap(), in[0].address(), out[0].address());
    }

    public static void activationBackward(ActivationBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long n = out[0].numel();
        if (anyHalf(in, out)) {
            gpu.launch("ls_act_backward_t_k", n, n, op.kind().cap(), in[0].address(), t(in[0]), in[1].address(), t(in[1]),
                    out[0].address(), t(out[0]));
            return;
        }
        gpu.launch("ls_act_backward_k", n, n, op.kind().cap(), in[0].address(), in[1].address(), out[0].address());
    }
}
