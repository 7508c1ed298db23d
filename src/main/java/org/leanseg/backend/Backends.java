package org.leanseg.backend;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaProbe;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.ReferenceBackend;

/**
 * Picks a backend for {@code --device auto|cuda|cpu|reference}: {@code auto} (the default everywhere)
 * takes CUDA when the probe says it is usable, else {@code cpu} (oneDNN) when its library loads,
 * else {@code reference}, with the reason for each fallback in one line; a named device that cannot
 * run here fails with that reason instead of falling back.
 *
 * <pre>{@code
 * Backends.Choice c = Backends.create("auto");
 * System.out.println(c.line());   // "device: cpu (oneDNN 3.11.0, 2 threads; cuda unavailable: ...)"
 * try (Backend b = c.backend()) { ... }
 * }</pre>
 */
public final class Backends {
    private Backends() {
    }

    /** The devices {@code --device} takes. */
    public static final String DEVICES = "auto, cuda, cpu or reference";

    /** The chosen backend and a one-line account of the choice. */
    public record Choice(Backend backend, String line) {
    }

    public static Choice create(String device) {
        return create(device, CudaBackend.Options.defaults());
    }

    public static Choice create(String device, CudaBackend.Options cudaOptions) {
        switch (device) {
            case "reference":
                return new Choice(new ReferenceBackend(), "device: reference (pure Java, " + Parallel.threads() + " threads, as asked)");
            case "cpu": {
                String why = CpuNative.unavailableReason();
                if (why != null) {
                    throw new IllegalStateException("--device cpu: cpu backend unavailable: " + why);
                }
                return new Choice(new CpuBackend(), "device: cpu (" + cpuDescription() + ")");
            }
            case "cuda": {
                CudaProbe.Result r = CudaProbe.result();
                if (!r.usable()) {
                    throw new IllegalStateException("--device cuda: cuda unavailable: " + r.reason());
                }
                return new Choice(new CudaBackend(cudaOptions), "device: cuda (" + r.description() + ")");
            }
            case "auto": {
                CudaProbe.Result r = CudaProbe.result();
                if (r.usable()) {
                    return new Choice(new CudaBackend(cudaOptions), "device: cuda (" + r.description() + ")");
                }
                String why = CpuNative.unavailableReason();
                if (why == null) {
                    return new Choice(new CpuBackend(), "device: cpu (" + cpuDescription() + "; cuda unavailable: " + r.reason() + ")");
                }
                return new Choice(new ReferenceBackend(), "device: reference (cuda unavailable: " + r.reason()
                        + "; cpu unavailable: " + why + ")");
            }
            default:
                throw new IllegalArgumentException("unknown device '" + device + "'; use " + DEVICES);
        }
    }

    private static String cpuDescription() {
        String wait = CpuNative.waitPolicy();
        return "oneDNN " + CpuNative.dnnlVersion() + ", " + Parallel.threads() + " threads" + (wait == null ? "" : "; " + wait);
    }

    /** Prints the choice for {@code auto} (or the argument): {@code java -cp leanseg.jar org.leanseg.backend.Backends}. */
    public static void main(String[] args) {
        Choice c = create(args.length > 0 ? args[0] : "auto");
        System.out.println(c.line());
        c.backend().close();
    }
}
