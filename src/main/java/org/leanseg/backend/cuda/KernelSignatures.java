package org.leanseg.backend.cuda;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameter types of our kernels, read from their PTX at build time (src/main/cuda/build-fatbin.sh writes
 * {@value #RESOURCE} beside the fatbin: one line {@code name type,type,...} per kernel, types u32 for int, u64 for
 * long long or a pointer, f32 for float, f64 for double). {@link CudaKernels} checks every launch against them, so
 * an argument list that does not match its kernel (a missing or extra argument, an int where the kernel takes a
 * pointer) fails with one line naming the kernel and the argument instead of launching with garbage. Checked on
 * the CPU by KernelSignaturesTest (the argument builders of the tiled kernels, and every kernel name in the code).
 *
 * <pre>{@code
 * String error = KernelSignatures.builtIn().check("ls_dw_forward_k", args);   // null when they match
 * }</pre>
 */
public final class KernelSignatures {
    static final String RESOURCE = "/org/leanseg/backend/cuda/leanseg-kernels.sig";
    private static KernelSignatures builtIn;

    private final Map<String, List<String>> types;

    KernelSignatures(Map<String, List<String>> types) {
        this.types = Map.copyOf(types);
    }

    /** The signatures built with this jar's fatbin; empty (nothing is checked) in a build without nvcc. */
    public static synchronized KernelSignatures builtIn() {
        if (builtIn == null) {
            try (InputStream in = KernelSignatures.class.getResourceAsStream(RESOURCE)) {
                builtIn = in == null ? new KernelSignatures(Map.of()) : parse(in);
            } catch (IOException e) {
                throw new CudaException("reading " + RESOURCE + ": " + e);
            }
        }
        return builtIn;
    }

    static KernelSignatures parse(InputStream in) throws IOException {
        Map<String, List<String>> m = new HashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                int sp = line.indexOf(' ');
                String name = sp < 0 ? line : line.substring(0, sp);
                m.put(name, sp < 0 ? List.of() : List.of(line.substring(sp + 1).split(",")));
            }
        }
        return new KernelSignatures(m);
    }

    /** Whether any signature was read (a build with nvcc). */
    public boolean known() {
        return !types.isEmpty();
    }

    /** The kernels' names. */
    public java.util.Set<String> names() {
        return types.keySet();
    }

    /** Null when {@code args} fit kernel {@code name} (or nothing is known), else one line saying what does not. */
    public String check(String name, Object... args) {
        if (types.isEmpty()) {
            return null;
        }
        List<String> want = types.get(name);
        if (want == null) {
            return "no kernel named " + name + " in the fatbin";
        }
        if (want.size() != args.length) {
            return name + " takes " + want.size() + " arguments, the launch passes " + args.length;
        }
        for (int i = 0; i < args.length; i++) {
            String got = typeOf(args[i]);
            if (!want.get(i).equals(got)) {
                return name + ": argument " + i + " is " + (args[i] == null ? "null" : args[i].getClass().getSimpleName()) + " ("
                        + got + "), the kernel takes " + want.get(i);
            }
        }
        return null;
    }

    private static String typeOf(Object a) {
        if (a instanceof Integer) {
            return "u32";
        } else if (a instanceof Long) {
            return "u64";
        } else if (a instanceof Float) {
            return "f32";
        } else if (a instanceof Double) {
            return "f64";
        }
        return "?";
    }
}
