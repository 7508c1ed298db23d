package org.leanseg.backend.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The cpu backend's native library ({@code src/main/cpp/cpu}: oneDNN convolutions and our own
 * kernels, built by {@code build-cpu.sh} during the Maven build into resource {@value #RESOURCE}).
 * Loading first loads oneDNN through its JavaCPP presets ({@code org.bytedeco:dnnl}), which unpack
 * {@code libdnnl.so.3} and its OpenMP runtime; this library then binds to those. Probed once:
 * {@link #unavailableReason()} says in one line why the backend cannot run here, or is null.
 *
 * <p>Addresses are raw native pointers into arenas of {@link CpuBackend}; every tensor is a plain
 * row-major array there. Kernels taking an {@code int dt} run on data tensors of that element type
 * ({@link #dtypeCode}: float32, or the bfloat16 / binary16 activations of a 16-bit step, Note [Mixed
 * precision]); every other pointer is float32. Check: {@code mvn -B -q test -Dtest=CpuOpsParityTest}.
 */
public final class CpuNative {
    static final String RESOURCE = "/native/linux-x86_64/libleanseg_cpu.so";
    private static final String REASON = load();

    private CpuNative() {
    }

    /** Null when the library and oneDNN are loaded, else why not, in one line. */
    public static String unavailableReason() {
        return REASON;
    }

    public static boolean available() {
        return REASON == null;
    }

    /** oneDNN's version, e.g. "3.11.0", or null when unavailable. */
    public static String dnnlVersion() {
        if (!available()) {
            return null;
        }
        org.bytedeco.dnnl.dnnl_version_t v = org.bytedeco.dnnl.global.dnnl.dnnl_version();
        return v.major() + "." + v.minor() + "." + v.patch();
    }

    private static String load() {
        String os = System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", "");
        if (!os.equals("Linux/amd64")) {
            return "the cpu backend exists for Linux/amd64 only, this is " + os;
        }
        String isa = missingIsa();
        if (isa != null) {
            return isa;
        }
        URL url = CpuNative.class.getResource(RESOURCE);
        if (url == null) {
            return "its native library is missing (" + RESOURCE + "): the build had no g++ or no oneDNN jar";
        }
        String spin = spinSetting();
        if (spin != null) {
            return spin;
        }
        try {
            org.bytedeco.javacpp.Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        } catch (Throwable e) {
            return "oneDNN (org.bytedeco:dnnl) does not load: " + rootMessage(e);
        }
        try {
            System.load(extract(url, "leanseg_cpu").toAbsolutePath().toString());
            return null;
        } catch (IOException | URISyntaxException | UnsatisfiedLinkError e) {
            return "its native library does not load: " + rootMessage(e);
        }
    }

    /** The OpenMP spin count this process sets on an idle machine when the environment sets none (Note [OpenMP spinning]). */
    static final String SPIN_COUNT = "30000";

    /** How libgomp was told to wait, for the device line: null when the user's environment decides. */
    private static String waitPolicy;

    /**
     * Note [OpenMP spinning]: oneDNN and our kernels share GNU libgomp's thread team. By default a
     * libgomp thread that reaches a barrier spins 300,000 rounds (about a millisecond) before it sleeps.
     * That is fastest on an idle machine, but when the cores are shared (the data loader's threads,
     * other processes, a hypervisor taking time) a spinning thread holds the core its partner needs,
     * and every barrier then waits for a scheduler slice. Measured on 2 cores (docs/benchmarks.md,
     * training at 48x48, batch 16): idle, the default 161 images/s, spin count 30,000 about the same,
     * 3,000 128, 300 63, OMP_WAIT_POLICY=passive 50-70; at a load of about 4-6, the default 6-9, spin
     * counts 30,000 and 3,000 9-48, 300 80, passive 75-84. No one setting wins both, so at load time:
     * a machine already busy (as many runnable threads of other processes as cores) gets
     * {@code OMP_WAIT_POLICY=passive}, an idle one {@code GOMP_SPINCOUNT=30000}. libgomp reads its
     * settings once, when it is loaded, so they are set here, through a small library linked against
     * libc only, before oneDNN (and with it libgomp) loads; a GOMP_SPINCOUNT or OMP_WAIT_POLICY of the
     * user's own is left as it is. The device line says which was chosen.
     */
    private static String spinSetting() {
        if (System.getenv("GOMP_SPINCOUNT") != null || System.getenv("OMP_WAIT_POLICY") != null) {
            return null;
        }
        URL url = CpuNative.class.getResource(ENV_RESOURCE);
        if (url == null) {
            return "its native library is incomplete (" + ENV_RESOURCE + " missing): rebuild";
        }
        try {
            System.load(extract(url, "leanseg_cpuenv").toAbsolutePath().toString());
            if (busyMachine()) {
                setenvIfUnset("OMP_WAIT_POLICY", "passive");
                waitPolicy = "OpenMP threads sleep at barriers: the machine was busy at start";
            } else {
                setenvIfUnset("GOMP_SPINCOUNT", SPIN_COUNT);
                waitPolicy = null;
            }
            return null;
        } catch (IOException | URISyntaxException | UnsatisfiedLinkError e) {
            return "its native library does not load: " + rootMessage(e);
        }
    }

    /** Samples {@link #otherRunnable} a few times: a machine is busy when it never has a core free for us. */
    private static final int BUSY_SAMPLES = 5;
    private static final long BUSY_SAMPLE_GAP_MILLIS = 20;

    /**
     * Whether every one of {@link #BUSY_SAMPLES} looks, {@link #BUSY_SAMPLE_GAP_MILLIS} ms apart, sees
     * at least as many runnable threads of other processes as there are cores. One look alone catches
     * passing work (a process exiting, a shell starting) and made benchmark runs on an idle machine
     * sleep at barriers, 20-40% slower (docs/benchmarks.md, 2026-12-07).
     */
    static boolean busyMachine() {
        int cores = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < BUSY_SAMPLES; i++) {
            if (otherRunnable() < cores) {
                return false;
            }
            try {
                Thread.sleep(BUSY_SAMPLE_GAP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /**
     * Threads of other processes runnable on the machine now (state R in /proc/PID/task/TID/stat), or 0
     * where /proc cannot be read. Unlike the load average it does not remember the run that just ended
     * (a benchmark's previous peer), and unlike /proc/stat's procs_running it leaves out this JVM's own
     * threads, which are busy compiling and collecting while it starts.
     */
    static int otherRunnable() {
        long self = ProcessHandle.current().pid();
        int running = 0;
        try (java.util.stream.Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : (Iterable<Path>) procs::iterator) {
                String name = proc.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
                    continue;
                }
                running += runnableThreads(proc.resolve("task"));
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return running;
    }

    private static int runnableThreads(Path tasks) {
        int running = 0;
        try (java.util.stream.Stream<Path> list = Files.list(tasks)) {
            for (Path task : (Iterable<Path>) list::iterator) {
                String stat = Files.readString(task.resolve("stat"));
                int close = stat.lastIndexOf(')');   // the command name may hold spaces and parentheses
                if (close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'R') {
                    running++;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended while we looked
        }
        return running;
    }

    /** Null on an idle machine; else how OpenMP waits and why (Note [OpenMP spinning]). */
    public static String waitPolicy() {
        return waitPolicy;
    }

    static final String ENV_RESOURCE = "/native/linux-x86_64/libleanseg_cpuenv.so";

    private static Path extract(URL url, String name) throws IOException, URISyntaxException {
        if ("file".equals(url.getProtocol())) {
            return Path.of(url.toURI());
        }
        Path lib = Files.createTempFile(name, ".so");
        lib.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        }
        return lib;
    }

    /** setenv(name, value) unless the process has name already; true when it was set. */
    static native boolean setenvIfUnset(String name, String value);

    /** The library is built for x86-64-v3 (AVX2, FMA); null when this CPU has those. */
    private static String missingIsa() {
        try {
            String info = Files.readString(Path.of("/proc/cpuinfo"));
            for (String flag : new String[] {"avx2", "fma"}) {
                if (!java.util.regex.Pattern.compile("\\b" + flag + "\\b").matcher(info).find()) {
                    return "this CPU lacks " + flag.toUpperCase(java.util.Locale.ROOT) + " (the cpu backend needs x86-64-v3)";
                }
            }
            return null;
        } catch (IOException e) {
            return null; // unknown: try to load
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }

    /**
     * The element-type code of a data tensor for the kernels' {@code dt} argument (src/main/cpp/cpu/cpu.h):
     * 0 float32 (and the integer types, which are exact floats here), 1 bfloat16, 2 binary16.
     */
    public static int dtypeCode(org.leanseg.tensor.DType t) {
        return switch (t) {
            case BF16 -> 1;
            case F16 -> 2;
            default -> 0;
        };
    }

    /** {@link #dtypeCode} of views that must share one element type (a kernel's data tensors); throws naming them if they do not. */
    public static int dtypeCode(CpuView... views) {
        org.leanseg.tensor.DType t = views[0].spec().dtype();
        for (CpuView v : views) {
            if (v.spec().dtype() != t) {
                throw new IllegalArgumentException("cpu kernel: data tensors of one op must share an element type, got "
                        + java.util.Arrays.stream(views).map(x -> x.spec().toString()).toList());
            }
        }
        return dtypeCode(t);
    }

    /** oneDNN's effective instruction set for its kernels here, e.g. "avx2" or "avx512_core_amx" (dnnl_get_effective_cpu_isa). */
    public static String effectiveIsa() {
        if (!available()) {
            return null;
        }
        int isa = org.bytedeco.dnnl.global.dnnl.dnnl_get_effective_cpu_isa();
        for (java.util.Map.Entry<Integer, String> e : ISA_NAMES.entrySet()) {
            if (e.getKey() == isa) {
                return e.getValue();
            }
        }
        return "isa 0x" + Integer.toHexString(isa);
    }

    private static final java.util.Map<Integer, String> ISA_NAMES = isaNames();

    private static java.util.Map<Integer, String> isaNames() {
        java.util.Map<Integer, String> m = new java.util.LinkedHashMap<>();
        if (!available()) {
            return m;
        }
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_sse41, "sse41");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx, "avx");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2, "avx2");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2_vnni, "avx2_vnni");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2_vnni_2, "avx2_vnni_2");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core, "avx512_core");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_fp16, "avx512_core_fp16");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core_amx_fp16, "avx512_core_amx_fp16");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx10_1_512, "avx10_1_512");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx10_1_512_amx, "avx10_1_512_amx");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx10_1_512_amx_fp16, "avx10_1_512_amx_fp16");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx10_2_512, "avx10_2_512");
        m.put(org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx10_2_512_amx_2, "avx10_2_512_amx_2");
        return m;
    }

    /**
     * How convolutions on 16-bit activations of type {@code t} run here (Note [cpu 16-bit convolutions]
     * in src/main/cpp/cpu/conv.cpp), from the implementation oneDNN picks for a probe convolution
     * (64 to 64 channels, 3x3, 2x16x16): its own 16-bit primitive, or a float32 one on 16-bit storage.
     * E.g. "cpu convolutions compute in f32 on bf16 storage (jit:avx2 (f32 compute, bf16 storage)):
     * oneDNN 3.11 has no bf16 convolution for this CPU's instruction set (avx2)".
     */
    public static String sixteenBitConvolutions(org.leanseg.tensor.DType t) {
        int[] geo = {2, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 16, 16, dtypeCode(t)};
        String impl = convImpl(0, geo, false);
        String name = t.name().toLowerCase(java.util.Locale.ROOT);
        if (impl.contains("f32 compute")) {
            return "cpu convolutions compute in f32 on " + name + " storage (" + impl + "): oneDNN " + dnnlVersion() + " has no "
                    + name + " convolution for this CPU's instruction set (" + effectiveIsa() + ")";
        }
        return "cpu convolutions in oneDNN's " + name + " primitives (" + impl + "; instruction set " + effectiveIsa() + ")";
    }

    // memory
    static native long malloc(long bytes);

    static native void free(long address);

    static native void copyIn(float[] src, int offset, long dst, int count);

    static native void copyOut(long src, float[] dst, int offset, int count);

    /** Floats to 16-bit storage ({@code fp16}: binary16, else bfloat16), rounded to nearest-even as {@code tensor.Half}. */
    static native void copyIn16(float[] src, int offset, long dst, int count, boolean fp16);

    /** 16-bit storage to floats (exact). */
    static native void copyOut16(long src, float[] dst, int offset, int count, boolean fp16);

    public static native void copy(long src, long dst, long bytes);

    public static native void setThreads(int n);

    public static native int threads();

    // convolutions through oneDNN: kind 0 forward, 1 backward data, 2 backward weights;
    // geo = N C H W O kh kw sh sw ph pw dh dw G Ho Wo dt (Note [cpu 16-bit convolutions] in src/main/cpp/cpu/conv.cpp)
    public static native long convWorkspace(int kind, int[] geo, boolean bias);

    public static native void conv(int kind, int[] geo, long a, long b, long bias, long out, long workspace);

    public static native String convImpl(int kind, int[] geo, boolean bias);

    // elementwise
    public static native void add(long[] inputs, long y, long n, int dt);

    public static native void scale(long x, long y, long n, float factor, int dt);

    public static native void fill(long y, long n, float value, int dt);

    public static native void accumulate(long acc, long x, long n, int dt);

    public static native void activation(long x, long y, long n, float cap, int dt);

    public static native void activationBackward(long y, long dy, long dx, long n, float cap, int dt);

    // batch norm
    public static native void batchNormTrain(long x, long gamma, long beta, long runMean, long runVar, long y, long saveMean,
                                             long saveInvStd, int n, int c, int hw, double eps, double momentum, int dt);

    public static native void batchNormEval(long x, long gamma, long beta, long runMean, long runVar, long y, int n, int c,
                                            int hw, double eps, int dt);

    /** mode 0: from x with (mean, invStd); 1: from y with (beta, invStd); 2: eval mode with (runMean, runVar). */
    public static native void batchNormBackward(int mode, long src, long gamma, long s0, long s1, long dy, long dx, long dgamma,
                                                long dbeta, int n, int c, int hw, double eps, int dt);

    public static native void biasGrad(long dy, long db, int n, int c, int plane, int dt);

    // shape
    public static native void resize(long x, long y, int planes, int inH, int inW, int outH, int outW, boolean alignCorners, int dt);

    public static native void resizeBackward(long dy, long dx, int planes, int inH, int inW, int outH, int outW,
                                             boolean alignCorners, int dt);

    public static native void globalAvgPool(long x, long y, int planes, int hw, int dt);

    public static native void globalAvgPoolBackward(long dy, long dx, int planes, int hw, int dt);

    public static native void copyChannels(long src, int srcChannels, int srcStart, long dst, int dstChannels, int dstStart,
                                           int count, int n, int hw, int dt);

    // loss: the total weight, or -(1 + index) of the first label that is no class (nothing written then)
    public static native double crossEntropy(long z, long labels, long loss, int n, int classes, int h, int w, int ignore,
                                             float[] weights, int dt);

    public static native double crossEntropyBackward(long z, long labels, long dloss, long dz, int n, int classes, int h,
                                                     int w, int ignore, float[] weights, int dt);

    public static native void argmax(long z, long y, int n, int classes, int h, int w, int dt);

    // fused upsample loss and argmax (Note [Fused upsample loss]): logits on the [inH, inW] grid, labels/masks [outH, outW]
    public static native double upsampleCrossEntropy(long z, long labels, long loss, int n, int classes, int inH, int inW, int outH,
                                                     int outW, boolean alignCorners, int ignore, float[] weights, int dt);

    public static native double upsampleCrossEntropyBackward(long z, long labels, long dloss, long dz, int n, int classes, int inH,
                                                             int inW, int outH, int outW, boolean alignCorners, int ignore,
                                                             float[] weights, int dt);

    public static native void upsampleArgmax(long z, long y, int n, int classes, int inH, int inW, int outH, int outW,
                                             boolean alignCorners, int dt);

    // optimizer (float32 only)
    public static native void sgd(long param, long grad, long buf, long lr, long n, float momentum, boolean nesterov,
                                  float weightDecay, float lrScale, boolean zeroGrad);
}
