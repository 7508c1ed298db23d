package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The offline bundle (src/main/bundle, {@code mvn -B -Pbundle -DskipTests package}): the launcher's CUDA
 * library search on fake library folders (always), and the tarballs' contents where they have been built
 * (skipped otherwise, with the command that builds them).
 */
class BundleTest {
    private static final Path ENV_SCRIPT = Path.of("src/main/bundle/bin/leanseg-env.sh");
    private static final Path BUNDLE = Path.of("target/leanseg-bundle.tar.gz");
    private static final Path GPU_TESTS = Path.of("target/leanseg-gpu-tests.tar.gz");
    private static final long MAX_BUNDLE_BYTES = 60L << 20;

    /** Runs a command; returns its stdout (stderr discarded), failing on a non-zero exit. */
    private static String run(Map<String, String> env, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().keySet().removeIf(k -> k.startsWith("LEANSEG_"));   // only what the test sets
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + Arrays.toString(command));
        assertEquals(0, p.exitValue(), Arrays.toString(command) + " failed: " + out);
        return out;
    }

    private static Path dir(Path p) throws IOException {
        return Files.createDirectories(p);
    }

    private static String sourceEnv(Map<String, String> env) throws IOException, InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "no /bin/bash");
        return run(env, "/bin/bash", "-c", ". '" + ENV_SCRIPT.toAbsolutePath() + "'; printf '%s\\n%s' \"$LEANSEG_JAVA\" \"$LD_LIBRARY_PATH\"");
    }

    @Test
    void launcherPutsGivenThenVenvCudaLibrariesFirst(@TempDir Path tmp) throws Exception {
        Path given = dir(tmp.resolve("given"));
        Path site = tmp.resolve("venv/lib/python3.11/site-packages");
        Path cu13 = dir(site.resolve("nvidia/cu13/lib"));
        Path cudnn = dir(site.resolve("nvidia/cudnn/lib"));
        Path home = tmp.resolve("home");
        Path java = dir(home.resolve("runtime/bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        String[] out = sourceEnv(Map.of("LEANSEG_HOME", home.toString(), "LEANSEG_CUDA_LIBS", given + ":" + tmp.resolve("missing"),
                "LEANSEG_PYTHON_VENV", tmp.resolve("venv").toString(), "LD_LIBRARY_PATH", "/orig")).split("\n");
        assertEquals(java.toString(), out[0], "the bundled runtime's java");
        String path = out[1];
        assertTrue(path.startsWith(given + ":" + cu13 + ":" + cudnn + ":") || path.startsWith(given + ":" + cudnn + ":" + cu13 + ":"),
                "given, then the venv's nvidia/*/lib: " + path);
        assertTrue(path.endsWith(":/orig"), "the old path last: " + path);
        assertTrue(!path.contains("missing"), "folders that do not exist are left out: " + path);
    }

    @Test
    void launcherAsksThePython3OnPathForNvidiaWheels(@TempDir Path tmp) throws Exception {
        Path nvidia = tmp.resolve("site/nvidia");
        Path cublas = dir(nvidia.resolve("cublas/lib"));
        Path bin = dir(tmp.resolve("bin"));
        Path python = bin.resolve("python3");
        Files.writeString(python, "#!/bin/sh\necho '" + nvidia + "'\n");
        Files.setPosixFilePermissions(python, PosixFilePermissions.fromString("rwxr-xr-x"));
        String path = sourceEnv(Map.of("PATH", bin + ":" + System.getenv("PATH"), "LEANSEG_CUDA_LIBS", "")).split("\n")[1];
        assertTrue(path.startsWith(cublas.toString()), "python3's nvidia/*/lib first: " + path);
    }

    private static List<String> entries(Path tarball) throws Exception {
        return List.of(run(Map.of(), "tar", "-tzf", tarball.toString()).split("\n"));
    }

    @Test
    void bundleHoldsRuntimeAppJarsAndLauncher(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.exists(BUNDLE), BUNDLE + " not built (mvn -B -Pbundle -DskipTests package)");
        long bytes = Files.size(BUNDLE);
        assertTrue(bytes < MAX_BUNDLE_BYTES, "bundle is " + bytes + " bytes, limit 60 MiB");
        List<String> names = entries(BUNDLE);
        for (String must : List.of("leanseg/bin/leanseg", "leanseg/bin/leanseg-env.sh", "leanseg/runtime/bin/java",
                "leanseg/runtime/lib/modules", "leanseg/lib/leanseg.jar")) {
            assertTrue(names.contains(must), "bundle lacks " + must);
        }
        List<String> jars = names.stream().filter(n -> n.startsWith("leanseg/lib/") && n.endsWith(".jar")).toList();
        for (String prefix : List.of("leanseg/lib/cuda-", "leanseg/lib/javacpp-")) {
            assertTrue(jars.stream().anyMatch(j -> j.startsWith(prefix) && j.endsWith("-linux-x86_64.jar")), prefix + "*-linux-x86_64.jar");
        }
        List<String> foreign = new ArrayList<>();
        for (String j : jars) {
            if (j.matches(".*-(linux-(arm64|ppc64le|armhf)|macosx-.*|windows-.*|android-.*|ios-.*)\\.jar")) {
                foreign.add(j);
            }
        }
        assertTrue(foreign.isEmpty(), "jars for other platforms: " + foreign);
        // the app jar holds the fatbin where this build had nvcc
        if (Files.exists(Path.of("target/classes/org/leanseg/backend/cuda/leanseg-kernels.fatbin"))) {
            run(Map.of(), "tar", "-xzf", BUNDLE.toAbsolutePath().toString(), "-C", tmp.toString(), "leanseg/lib/leanseg.jar");
            try (ZipFile jar = new ZipFile(tmp.resolve("leanseg/lib/leanseg.jar").toFile())) {
                assertTrue(jar.getEntry("org/leanseg/backend/cuda/leanseg-kernels.fatbin") != null, "fatbin in the app jar");
            }
        }
    }

    @Test
    void gpuTestsTarballHoldsLauncherConsoleAndTestClasses() throws Exception {
        Assumptions.assumeTrue(Files.exists(GPU_TESTS), GPU_TESTS + " not built (mvn -B -Pbundle -DskipTests package)");
        List<String> names = entries(GPU_TESTS);
        for (String must : List.of("leanseg/bin/leanseg-gpu-tests", "leanseg/tests/junit-console.jar",
                "leanseg/tests/test-classes/org/leanseg/backend/cuda/CudaOpsParityTest.class")) {
            assertTrue(names.contains(must), "gpu tests tarball lacks " + must);
        }
    }
}
