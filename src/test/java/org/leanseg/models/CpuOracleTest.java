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
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.testing.OracleFiles;

/**
 * The PyTorch oracle test ({@link OracleTest}, same checks and tolerances) with every executor on
 * the oneDNN cpu backend and the step that device trains (fused). Skips with a one-line reason where
 * the cpu backend cannot load. Run: {@code mvn -B test -Dtest=CpuOracleTest}.
 */
@Tag("oracle")
class CpuOracleTest {
    private static CpuBackend cpu;

    @TestFactory
    Stream<DynamicTest> oraclesOnCpu() throws IOException {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
        List<Path> files = OracleFiles.all();
        Assumptions.assumeFalse(files.isEmpty(), "no oracle files found (set LEANSEG_ORACLE or keep ../shared/oracle beside the repo)");
        cpu = new CpuBackend();
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName() + " on cpu", () -> OracleTest.check(f, () -> cpu)));
    }

    @AfterAll
    static void close() {
        if (cpu != null) {
            cpu.close();
        }
    }
}
