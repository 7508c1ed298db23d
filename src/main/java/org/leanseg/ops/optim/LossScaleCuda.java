package org.leanseg.ops.optim;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/**
 * CUDA bindings of the loss-scaling ops of an fp16 step (Note [Dynamic loss scaling] in {@link LossScale}):
 * kernels ls_loss_scale_k, ls_nonfinite_k, ls_loss_scale_update_k, ls_sgd_scaled_k and ls_adamw_scaled_k in
 * src/main/cuda/precision.cu. The overflow check and the skipped step are decided on the device (the found flag
 * is read by the update kernels there), so a step never waits for the host. Not yet run on a GPU: the op table
 * marks them untested (docs/gpu-results.md).
 */
public final class LossScaleCuda {
    private LossScaleCuda() {
    }

    /** in = {state}; out = {scale}. */
    public static void scale(LossScale op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        gpu.launchBlocks("ls_loss_scale_k", 1, scaleArgs(in[0].address(), out[0].address()));
    }

    /**
     * in = {state, grad...}; out = {found}: found zeroed, one overflow check per gradient (each skips its work once an
     * earlier one found inf/NaN), then the state update.
     */
    public static void update(LossScaleUpdate op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        gpu.memset(out[0].address(), 0, 4);
        for (int g = 1; g < in.length; g++) {
            gpu.launch("ls_nonfinite_k", in[g].numel(), nonfiniteArgs(in[g].numel(), in[g].address(), out[0].address()));
        }
        gpu.launchBlocks("ls_loss_scale_update_k", 1, updateArgs(op, in[0].address(), out[0].address()));
    }

    /** in = the update's own inputs, then {scale, found}; as {@link SgdCuda} and {@link AdamWCuda} with the unscale and skip. */
    public static void scaled(LossScaled op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long[] a = new long[in.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = in[i].address();
        }
        gpu.launch(scaledKernel(op), in[0].numel(), scaledArgs(op, in[0].numel(), a));
    }

    static Object[] scaleArgs(long state, long out) {
        return new Object[] {state, out, LossScale.INITIAL_LOG2};
    }

    static Object[] nonfiniteArgs(long n, long grad, long found) {
        return new Object[] {n, grad, found};
    }

    static Object[] updateArgs(LossScaleUpdate op, long state, long found) {
        return new Object[] {state, found, op.growthInterval(), LossScale.INITIAL_LOG2};
    }

    static String scaledKernel(LossScaled op) {
        return op.update() instanceof Sgd ? "ls_sgd_scaled_k" : "ls_adamw_scaled_k";
    }

    /** The arguments of {@link #scaledKernel} for {@code n} elements and the addresses of the op's inputs. */
    static Object[] scaledArgs(LossScaled op, long n, long... in) {
        if (op.update() instanceof Sgd s) {
            return new Object[] {n, in[0], in[1], in[2], in[3], s.lrScale(), s.momentum(), s.weightDecay(), s.nesterov() ? 1 : 0,
                    s.zeroGrad() ? 1 : 0, in[4], in[5]};
        }
        AdamW a = (AdamW) op.update();
        return new Object[] {n, in[0], in[1], in[2], in[3], in[4], a.lrScale(), a.beta1(), a.beta2(), a.eps(), a.weightDecay(),
                a.zeroGrad() ? 1 : 0, in[5], in[6]};
    }

    /** {@link #scaledArgs} for tests: the kernel name first. */
    public static Object[] scaledLaunchForTests(LossScaled op) {
        int own = op.update() instanceof Sgd ? 4 : 5;
        long[] a = new long[own + 2];
        for (int i = 0; i < a.length; i++) {
            a[i] = i + 1;
        }
        Object[] args = scaledArgs(op, 10, a);
        Object[] r = new Object[args.length + 1];
        r[0] = scaledKernel(op);
        System.arraycopy(args, 0, r, 1, args.length);
        return r;
    }

    /** The other kernels' arguments for tests: {kernel, args...} each. */
    public static java.util.List<Object[]> launchesForTests() {
        java.util.List<Object[]> l = new java.util.ArrayList<>();
        l.add(prepend("ls_loss_scale_k", scaleArgs(1L, 2L)));
        l.add(prepend("ls_nonfinite_k", nonfiniteArgs(10L, 1L, 2L)));
        l.add(prepend("ls_loss_scale_update_k", updateArgs(new LossScaleUpdate(LossScaleUpdate.GROWTH_INTERVAL), 1L, 2L)));
        return l;
    }

    private static Object[] prepend(String kernel, Object[] args) {
        Object[] r = new Object[args.length + 1];
        r[0] = kernel;
        System.arraycopy(args, 0, r, 1, args.length);
        return r;
    }
}
