package org.leanseg.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Crash-safe file replacement, used for checkpoints, configs and reports: the content goes to a
 * temporary file in the target's directory, is fsynced, then renamed over the target with
 * {@code ATOMIC_MOVE}, and the directory is fsynced where the OS allows it (Linux, macOS). A
 * reader therefore sees either the old file or the complete new one, never a torn write. If the
 * writer throws, the old file is left untouched and the temporary file is removed.
 *
 * <pre>{@code
 * AtomicFiles.write(workDir.resolve("latest.safetensors"), out -> out.write(bytes));
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=AtomicFilesTest}.
 */
public final class AtomicFiles {
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    private AtomicFiles() {
    }

    /**
     * Writes {@code target} atomically with the bytes {@code body} writes to the stream it is
     * given. The stream is buffered; closing it inside {@code body} is allowed but not needed.
     * Throws {@link java.nio.file.AtomicMoveNotSupportedException} where the file system cannot
     * rename atomically (no silent non-atomic fallback).
     */
    public static void write(Path target, IOConsumer<OutputStream> body) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Files.createDirectories(dir);
        // Not Files.createTempFile: it makes the file 0600 whatever the umask, and the rename would
        // carry that mode to the target. A plain CREATE_NEW follows the umask, as log.txt does.
        Path tmp = dir.resolve("." + absolute.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                OutputStream out = new BufferedOutputStream(new KeepOpen(Channels.newOutputStream(channel)), 1 << 16);
                body.accept(out);
                out.flush();
                channel.force(true);
            }
            Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
            fsyncDirectory(dir);
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Convenience: atomically replaces {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /**
     * Makes the rename durable. Opening a directory for reading is not allowed on Windows; there
     * the rename is as durable as the OS makes it, which is the documented "where possible".
     */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException notSupported) {
            // Not supported on this platform: nothing more we can do.
        }
    }

    /** Lets the body close "its" stream without closing the channel before we fsync it. */
    private static final class KeepOpen extends FilterOutputStream {
        KeepOpen(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
