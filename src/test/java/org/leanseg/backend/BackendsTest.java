package org.leanseg.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cuda.CudaProbe;

/**
 * Backend choice: reference always works; cpu where its library loads; auto takes CUDA, else cpu, else
 * reference, with a one-line reason for each fallback; an unknown or unusable named device fails.
 */
class BackendsTest {
    @Test
    void referenceCpuAndAuto() {
        try (Backend r = Backends.create("reference").backend()) {
            assertEquals("reference", r.name());
        }
        if (CpuNative.available()) {
            try (Backend c = Backends.create("cpu").backend()) {
                assertEquals("cpu", c.name());
            }
        } else {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cpu"));
            assertTrue(e.getMessage().contains(CpuNative.unavailableReason()), e.getMessage());
        }
        Backends.Choice auto = Backends.create("auto");
        try (Backend b = auto.backend()) {
            assertEquals(CudaProbe.usable() ? "cuda" : CpuNative.available() ? "cpu" : "reference", b.name());
            assertTrue(!auto.line().contains("\n") && auto.line().startsWith("device: "), auto.line());
        }
        if (!CudaProbe.usable()) {
            assertTrue(auto.line().contains("cuda unavailable: "), auto.line());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda"));
            assertTrue(e.getMessage().contains(CudaProbe.result().reason()));
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu"));
        assertTrue(bad.getMessage().contains("reference"), bad.getMessage());
    }
}
