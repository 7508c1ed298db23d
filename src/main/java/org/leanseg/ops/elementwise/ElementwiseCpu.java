package org.leanseg.ops.elementwise;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;

/**
 * The cpu column of the elementwise rows ({@code Ops}): native loops over the views (in place where the op allows), on
 * float32 or 16-bit data (Note [Mixed precision]: computed in float, rounded on store).
 */
public final class ElementwiseCpu {
    private ElementwiseCpu() {
    }

    public static void add(Add op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        long[] a = new long[in.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = in[i].address();
        }
        CpuNative.add(a, out[0].address(), out[0].numel(), CpuNative.dtypeCode(concat(in, out[0])));
    }

    private static CpuView[] concat(CpuView[] a, CpuView b) {
        CpuView[] all = java.util.Arrays.copyOf(a, a.length + 1);
        all[a.length] = b;
        return all;
    }

    public static void scale(Scale op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.scale(in[0].address(), out[0].address(), out[0].numel(), op.factor(), CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void fill(Fill op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.fill(out[0].address(), out[0].numel(), op.value(), CpuNative.dtypeCode(out[0]));
    }

    public static void accumulate(AccumulateInto op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.accumulate(in[0].address(), in[1].address(), in[0].numel(), CpuNative.dtypeCode(in[0], in[1]));
    }

    public static void activation(Activation op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.activation(in[0].address(), out[0].address(), out[0].numel(), op.kind().cap(), CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void activationBackward(ActivationBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.activationBackward(in[0].address(), in[1].address(), out[0].address(), out[0].numel(), op.kind().cap(),
                CpuNative.dtypeCode(in[0], in[1], out[0]));
    }
}
