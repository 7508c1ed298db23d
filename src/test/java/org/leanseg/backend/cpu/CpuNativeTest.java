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

    @Test
    void otherRunnableCountsABusyProcessButNotThisJvm() throws Exception {
        Thread spinner = new Thread(() -> {
            long x = 0;
            while (!Thread.currentThread().isInterrupted()) {
                x++;
            }
        });
        spinner.start();
        Process busy = new ProcessBuilder("sh", "-c", "while :; do :; done").start();
        try {
            Thread.sleep(200);
            int seen = 0;
            for (int i = 0; i < 5 && seen == 0; i++) {
                seen = CpuNative.otherRunnable();   // the busy shell is running or waiting to run
            }
            assertTrue(seen >= 1, "a busy process is runnable: " + seen);
        } finally {
            busy.destroyForcibly().waitFor();
            spinner.interrupt();
            spinner.join();
        }
        assertFalse(spinner.isAlive());
    }

    @Test
    void aMachineWhoseCoresAreAllTakenIsBusy() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        java.util.List<Process> busy = new java.util.ArrayList<>();
        try {
            for (int i = 0; i <= cores; i++) {
                busy.add(new ProcessBuilder("sh", "-c", "while :; do :; done").start());
            }
            Thread.sleep(200);
            assertTrue(CpuNative.busyMachine(), cores + 1 + " busy processes on " + cores + " cores");
        } finally {
            for (Process p : busy) {
                p.destroyForcibly().waitFor();
            }
        }
    }
}
