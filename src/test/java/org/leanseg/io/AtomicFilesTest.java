package org.leanseg.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<Path> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    @Test
    void writesAndReplaces() throws IOException {
        Path target = dir.resolve("a.txt");
        AtomicFiles.write(target, "first".getBytes(StandardCharsets.UTF_8));
        assertEquals("first", Files.readString(target));
        AtomicFiles.write(target, out -> {
            out.write("second, ".getBytes(StandardCharsets.UTF_8));
            out.write("longer".getBytes(StandardCharsets.UTF_8));
            out.close(); // the body may close its stream
        });
        assertEquals("second, longer", Files.readString(target));
        assertEquals(List.of(target), listing(), "no temporary file left behind");
    }

    /** Issue 12: files written atomically got 0600 (a temp file's mode) while log.txt follows the umask. */
    @Test
    void modeFollowsTheUmaskLikeAPlainFile() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path plain = Files.createFile(dir.resolve("plain.txt"));
        java.util.Set<java.nio.file.attribute.PosixFilePermission> umasked = Files.getPosixFilePermissions(plain);
        org.junit.jupiter.api.Assumptions.assumeTrue(umasked.size() > 2, "umask 077 makes both 0600: nothing to compare");
        Path target = dir.resolve("atomic.txt");
        AtomicFiles.write(target, new byte[] {1});
        assertEquals(umasked, Files.getPosixFilePermissions(target));
    }

    @Test
    void createsMissingParentDirectories() throws IOException {
        Path target = dir.resolve("work/run1/config.yaml");
        AtomicFiles.write(target, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target));
    }

    @Test
    void failingWriterLeavesOldFileAndNoTemp() throws IOException {
        Path target = dir.resolve("ckpt.bin");
        byte[] old = new byte[100_000];
        for (int i = 0; i < old.length; i++) {
            old[i] = (byte) i;
        }
        AtomicFiles.write(target, old);
        IOException thrown = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[200_000]); // more than the buffer: part of it reaches the temp file
            throw new IOException("disk full (simulated)");
        }));
        assertEquals("disk full (simulated)", thrown.getMessage());
        assertArrayEquals(old, Files.readAllBytes(target));
        assertEquals(List.of(target), listing(), "temporary file removed");
    }

    @Test
    void runtimeExceptionAlsoCleansUpAndNoFileAppears() throws IOException {
        Path target = dir.resolve("new.bin");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, out -> {
            out.write(7);
            throw new IllegalStateException("bug in writer");
        }));
        assertEquals(List.of(), listing());
    }
}
