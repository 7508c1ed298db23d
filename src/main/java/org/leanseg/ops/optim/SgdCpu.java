package org.leanseg.ops.optim;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;

/** The cpu column of the sgd row ({@code Ops}): the reference's update, in place on param, grad and momentum. */
public final class SgdCpu {
    private SgdCpu() {
    }

    /** in = {param, grad, momentumBuf, lr}. */
    public static void run(Sgd op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        CpuNative.sgd(in[0].address(), in[1].address(), in[2].address(), in[3].address(), in[0].numel(), op.momentum(),
                op.nesterov(), op.weightDecay(), op.lrScale(), op.zeroGrad());
    }
}
