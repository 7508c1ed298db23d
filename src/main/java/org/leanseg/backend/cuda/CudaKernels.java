package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Our kernels (src/main/cuda/*.cu, one fatbin jar resource): loaded once with {@code cuModuleLoadData},
 * functions looked up by name and cached, launched with {@code cuLaunchKernel} on the backend's stream.
 * Arguments go through one reusable native block of 8-byte slots (GPU.md: kernelParams is an array
 * of pointers to each value). Arguments are Integer (int), Long (long long or a device address),
 * Float (float) or Double (double), in the kernel's order, checked against the kernel's PTX signature
 * before each launch ({@link KernelSignatures}).
 *
 * <pre>{@code
 * kernels.launch("ls_fill_k", CudaKernels.grid(n), 256, n, 1f, view.address());
 * }</pre>
 */
final class CudaKernels implements AutoCloseable {
    /** Argument slots (the tiled depthwise kernels take 31: their grid's 25 fields, the cap, pointers). */
    static final int MAX_ARGS = 40;
    /** Threads per block for elementwise and reduction kernels (the .cu reductions assume 256). */
    static final int BLOCK = 256;

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final BytePointer values = new BytePointer(8L * MAX_ARGS);
    private final PointerPointer<Pointer> params = new PointerPointer<>(MAX_ARGS);
    private final CUstream_st stream;
    private boolean loaded;

    CudaKernels(CUstream_st stream) {
        this.stream = stream;
        byte[] image;
        try (InputStream in = CudaKernels.class.getResourceAsStream(CudaProbe.FATBIN)) {
            if (in == null) {
                throw new CudaException("no GPU kernels in this build (" + CudaProbe.FATBIN + " missing: built without nvcc)");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("reading " + CudaProbe.FATBIN + ": " + e);
        }
        try (BytePointer img = new BytePointer(image.length + 1L)) {
            img.put(image);
            CudaStatus.checkDriver(cuModuleLoadData(module, img), "cuModuleLoadData(" + CudaProbe.FATBIN + ", " + image.length + " B)");
        }
        loaded = true;
        for (int i = 0; i < MAX_ARGS; i++) {
            params.put(i, new DevicePointer(values.address() + 8L * i));   // host address of slot i
        }
    }

    /** Blocks for a grid-stride kernel over {@code n} items (capped: the loops stride). */
    static int grid(long n) {
        return (int) Math.max(1, Math.min((n + BLOCK - 1) / BLOCK, 65_535L * 8));
    }

    private CUfunc_st function(String name) {
        return functions.computeIfAbsent(name, k -> {
            CUfunc_st f = new CUfunc_st();
            CudaStatus.checkDriver(cuModuleGetFunction(f, module, k), "cuModuleGetFunction(" + k + ")");
            return f;
        });
    }

    /** Launches {@code name} on a 1-D grid. */
    void launch(String name, int gridX, int blockX, Object... args) {
        launch(name, gridX, 1, blockX, args);
    }

    /** Launches {@code name} on a 2-D grid of 1-D blocks. */
    synchronized void launch(String name, int gridX, int gridY, int blockX, Object... args) {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException(name + ": " + args.length + " arguments, at most " + MAX_ARGS);
        }
        String mismatch = KernelSignatures.builtIn().check(name, args);
        if (mismatch != null) {
            throw new IllegalArgumentException(mismatch);
        }
        for (int i = 0; i < args.length; i++) {
            long at = 8L * i;
            Object a = args[i];
            if (a instanceof Integer v) {
                values.putInt(at, v);
            } else if (a instanceof Long v) {
                values.putLong(at, v);
            } else if (a instanceof Float v) {
                values.putFloat(at, v);
            } else if (a instanceof Double v) {
                values.putDouble(at, v);
            } else {
                throw new IllegalArgumentException(name + ": argument " + i + " has unsupported type " + (a == null ? "null" : a.getClass()));
            }
        }
        CudaStatus.checkDriver(cuLaunchKernel(function(name), gridX, gridY, 1, blockX, 1, 1, 0, stream, params, null),
                "cuLaunchKernel(" + name + ", grid " + gridX + "x" + gridY + ", block " + blockX + ")");
    }

    @Override
    public void close() {
        if (loaded) {
            loaded = false;
            cuModuleUnload(module);
            values.close();
            params.close();
        }
    }
}
