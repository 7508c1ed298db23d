package org.leanseg.models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.GpuTests;
import org.leanseg.testing.OracleFiles;

/**
 * The PyTorch oracle test ({@link OracleTest}, same checks and tolerances) with every executor on
 * the CUDA backend (float32 convolutions, no TF32). Skips with a one-line reason without a GPU.
 * Run: {@code mvn -B test -Dgroups=gpu -Dtest=CudaOracleTest}.
 */
@Tag("gpu")
class CudaOracleTest {
    private static CudaBackend gpu;

    @TestFactory
    Stream<DynamicTest> oraclesOnGpu() throws IOException {
        GpuTests.assumeGpu();
        List<Path> files = OracleFiles.all();
        Assumptions.assumeFalse(files.isEmpty(), "no oracle files found (set LEANSEG_ORACLE or keep ../shared/oracle beside the repo)");
        gpu = new CudaBackend(CudaBackend.Options.repeatable());
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName() + " on cuda", () -> OracleTest.check(f, () -> gpu)));
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }
}
