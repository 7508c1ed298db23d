package org.leanseg.backend;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaProbe;
import org.leanseg.backend.reference.ReferenceBackend;

/**
 * Picks a backend for {@code --device auto|cpu|cuda}: {@code auto} takes CUDA when the probe says it
 * is usable and otherwise the reference backend, with the reason in one line; {@code cuda} fails
 * with that reason instead of falling back.
 *
 * <pre>{@code
 * Backends.Choice c = Backends.create("auto");
 * System.out.println(c.line());      // "device: cuda (NVIDIA H100 ...)" or "device: cpu (cuda unavailable: ...)"
 * try (Backend b = c.backend()) { ... }
 * }</pre>
 */
public final class Backends {
    private Backends() {
    }

    /** The chosen backend and a one-line account of the choice. */
    public record Choice(Backend backend, String line) {
    }

    public static Choice create(String device) {
        return create(device, CudaBackend.Options.defaults());
    }

    public static Choice create(String device, CudaBackend.Options cudaOptions) {
        switch (device) {
            case "cpu":
                return new Choice(new ReferenceBackend(), "device: cpu (reference backend, as asked)");
            case "cuda": {
                CudaProbe.Result r = CudaProbe.result();
                if (!r.usable()) {
                    throw new IllegalStateException("--device cuda: cuda unavailable: " + r.reason());
                }
                return new Choice(new CudaBackend(cudaOptions), "device: cuda (" + r.description() + ")");
            }
            case "auto": {
                CudaProbe.Result r = CudaProbe.result();
                return r.usable()
                        ? new Choice(new CudaBackend(cudaOptions), "device: cuda (" + r.description() + ")")
                        : new Choice(new ReferenceBackend(), "device: cpu (cuda unavailable: " + r.reason() + ")");
            }
            default:
                throw new IllegalArgumentException("unknown device '" + device + "'; use auto, cpu or cuda");
        }
    }

    /** Prints the choice for {@code auto} (or the argument): {@code java -cp leanseg.jar org.leanseg.backend.Backends}. */
    public static void main(String[] args) {
        Choice c = create(args.length > 0 ? args[0] : "auto");
        System.out.println(c.line());
        c.backend().close();
    }
}
