package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.TreeSet;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.Loader;

/**
 * The one place that decides whether the CUDA backend can run here (GPU.md "Detecting a GPU"):
 * loads the JavaCPP CUDA/cuDNN JNI libraries, asks the driver for a device and looks for our
 * kernel fatbin. The answer is computed once and cached; on a CPU machine it is a one-line reason,
 * and no other class touches the native bindings afterwards, so no {@code NoClassDefFoundError}
 * can surface later.
 *
 * <pre>{@code
 * CudaProbe.Result r = CudaProbe.result();
 * if (!r.usable()) System.out.println("cuda unavailable: " + r.reason());
 * }</pre>
 */
public final class CudaProbe {
    /** Name of the kernel fatbin resource beside this class (built by src/main/cuda/build-fatbin.sh). */
    static final String FATBIN = "leanseg-kernels.fatbin";

    /** Outcome: usable with a description of the device, or not with the reason. */
    public record Result(boolean usable, String description) {
        /** The one-line reason when unusable (same text as the description). */
        public String reason() {
            return description;
        }
    }

    private static volatile Result cached;

    private CudaProbe() {
    }

    /** The cached probe result (the first call loads the libraries: a few hundred ms on a GPU machine). */
    public static Result result() {
        Result r = cached;
        if (r == null) {
            synchronized (CudaProbe.class) {
                if (cached == null) {
                    cached = probe();
                }
                r = cached;
            }
        }
        return r;
    }

    public static boolean usable() {
        return result().usable();
    }

    private static Result probe() {
        if (CudaProbe.class.getResource(FATBIN) == null) {
            return new Result(false, "no GPU kernels in this build (" + FATBIN + " missing: the jar was built without nvcc)");
        }
        try {
            Loader.load(org.bytedeco.cuda.global.cudart.class);
        } catch (LinkageError e) {
            return new Result(false, "CUDA libraries not loadable: " + rootMessage(e));
        }
        int[] count = {0};
        int err = cudaGetDeviceCount(count);
        if (err != cudaSuccess) {
            return new Result(false, "cudaGetDeviceCount -> " + cudaGetErrorName(err).getString() + " (" + err + ")");
        }
        if (count[0] == 0) {
            return new Result(false, "no CUDA device");
        }
        int cudnnVersion;
        try {
            Loader.load(org.bytedeco.cuda.global.cudnn.class);
            cudnnVersion = (int) org.bytedeco.cuda.global.cudnn.cudnnGetVersion();
        } catch (LinkageError e) {
            return new Result(false, "cuDNN not loadable: " + rootMessage(e));
        }
        cudaDeviceProp prop = new cudaDeviceProp();
        err = cudaGetDeviceProperties(prop, 0);
        if (err != cudaSuccess) {
            return new Result(false, "cudaGetDeviceProperties -> " + cudaGetErrorName(err).getString() + " (" + err + ")");
        }
        if (prop.major() < 8) {
            return new Result(false, prop.name().getString() + " is sm_" + prop.major() + prop.minor()
                    + "; the kernels are built for sm_80 and newer");
        }
        int[] drv = {0};
        int[] rt = {0};
        cudaDriverGetVersion(drv);
        cudaRuntimeGetVersion(rt);
        return new Result(true, prop.name().getString() + " sm_" + prop.major() + prop.minor() + ", "
                + (prop.totalGlobalMem() >> 20) + " MiB, driver " + drv[0] + ", runtime " + rt[0] + ", cuDNN " + cudnnVersion
                + loadedLibraries().map(s -> " (" + s + ")").orElse(""));
    }

    /** Paths of the libcudnn / libcudart the process mapped (Linux), to tell which copy was loaded. */
    static Optional<String> loadedLibraries() {
        try {
            TreeSet<String> libs = new TreeSet<>();
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash >= 0 && (line.contains("libcudnn.so") || line.contains("libcudart.so"))) {
                    libs.add(line.substring(slash));
                }
            }
            return libs.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", libs));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.toString() : root.getMessage();
        return m.replace('\n', ' ');
    }
}
