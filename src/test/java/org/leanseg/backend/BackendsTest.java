package org.leanseg.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.CudaProbe;

/** Backend choice: cpu always works; auto falls back with a one-line reason where CUDA is unusable. */
class BackendsTest {
    @Test
    void cpuAndAuto() {
        assertEquals("reference", Backends.create("cpu").backend().name());
        Backends.Choice auto = Backends.create("auto");
        try (Backend b = auto.backend()) {
            assertEquals(CudaProbe.usable() ? "cuda" : "reference", b.name());
            assertTrue(!auto.line().contains("\n") && auto.line().startsWith("device: "), auto.line());
        }
        if (!CudaProbe.usable()) {
            assertTrue(auto.line().contains("cuda unavailable: "), auto.line());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda"));
            assertTrue(e.getMessage().contains(CudaProbe.result().reason()));
        }
        assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu"));
    }
}
