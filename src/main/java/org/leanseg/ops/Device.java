package org.leanseg.ops;

import java.util.List;
import java.util.function.IntFunction;
import org.leanseg.backend.Backend;
import org.leanseg.backend.View;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.ReferenceBackend;

/**
 * A column of the op table ({@link Ops}): a device key, the backend and view types its kernels take,
 * and what happens to an op that has no kernel there ({@link Fallback}). Adding a backend is one more
 * constant here and one more column of cells in {@link Ops}; nothing else dispatches on devices.
 *
 * <pre>{@code
 * Device<?, ?> d = Device.of(backend);        // by Backend.name()
 * Ops.kernelFor(op, d);                   // the cell, or null: then d.fallback() applies
 * }</pre>
 */
public record Device<B extends Backend, V extends View>(String key, Class<B> backendType, IntFunction<V[]> views,
                                                      Fallback fallback, String description) {
    /** What an op without a kernel on a device does there. */
    public enum Fallback {
        /** Fails with a one-line error naming the op and the device. */
        NONE,
        /**
         * Copies the op's inputs to the host, runs the reference kernel and copies its outputs (and the
         * inputs it updates) back: correct on any backend, at the cost of the copies; the host copies
         * count as that op's workspace in the plan ({@link Ops#workspaceBytes}).
         */
        HOST_REFERENCE,
        /**
         * As {@link #NONE} for an op without a kernel; an op whose kernel does not take its 16-bit views runs that
         * kernel on float32 copies of them in device scratch, converted on the device and rounded back (Note
         * [Widened 16-bit runs] in {@link Ops}); the copies count as that op's workspace in the plan.
         */
        WIDEN_16
    }

    public static final Device<ReferenceBackend, RefView> REFERENCE = new Device<>("reference", ReferenceBackend.class, RefView[]::new, Fallback.NONE,
            "pure Java, the yardstick every other backend is checked against");
    public static final Device<CpuBackend, CpuView> CPU = new Device<>("cpu", CpuBackend.class, CpuView[]::new, Fallback.HOST_REFERENCE,
            "oneDNN convolutions and native kernels on native memory");
    public static final Device<CudaBackend, CudaView> CUDA = new Device<>("cuda", CudaBackend.class, CudaView[]::new, Fallback.WIDEN_16,
            "cuDNN convolutions and our CUDA kernels");

    private static final List<Device<?, ?>> ALL = List.of(REFERENCE, CPU, CUDA);

    public static List<Device<?, ?>> all() {
        return ALL;
    }

    /** The device of a backend, by {@link Backend#name()}. */
    public static Device<?, ?> of(Backend backend) {
        return of(backend.name());
    }

    public static Device<?, ?> of(String key) {
        for (Device<?, ?> d : ALL) {
            if (d.key.equals(key)) {
                return d;
            }
        }
        throw new IllegalArgumentException("no device '" + key + "' in the op table; devices: "
                + ALL.stream().map(Device::key).toList());
    }

    @Override
    public String toString() {
        return key;
    }
}
