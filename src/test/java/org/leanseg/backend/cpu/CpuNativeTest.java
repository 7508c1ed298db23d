package org.leanseg.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The cpu backend's native side: the OpenMP setting helper (Note [OpenMP spinning]) and the threads it runs. */
class CpuNativeTest {
    @Test
    void setenvIfUnsetLeavesAnExistingValueAlone() {
        CpuOpsParityTest.assumeCpu();
        assertTrue(CpuNative.setenvIfUnset("LEANSEG_CPUNATIVE_TEST", "1"), "first call sets it");
        assertFalse(CpuNative.setenvIfUnset("LEANSEG_CPUNATIVE_TEST", "2"), "second call leaves it");
    }

    @Test
    void threadsFollowTheBackend() {
        CpuOpsParityTest.assumeCpu();
        try (CpuBackend cpu = new CpuBackend()) {
            assertEquals(org.leanseg.backend.reference.Parallel.threads(), CpuNative.threads());
        }
    }
}
