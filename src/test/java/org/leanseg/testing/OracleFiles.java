package org.leanseg.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds the PyTorch oracle files: {@code LEANSEG_ORACLE=<file>} names one; otherwise every
 * {@code *.safetensors} in the first {@code shared/oracle} found walking up from the working
 * directory (the repo sits beside {@code shared/}).
 */
public final class OracleFiles {
    private OracleFiles() {
    }

    public static List<Path> all() throws IOException {
        String one = System.getenv("LEANSEG_ORACLE");
        if (one != null && !one.isBlank()) {
            Path p = Path.of(one).toAbsolutePath();
            if (!Files.isRegularFile(p)) {
                throw new IOException("LEANSEG_ORACLE=" + one + " is not a file");
            }
            return List.of(p);
        }
        Path dir = directory();
        List<Path> out = new ArrayList<>();
        if (dir != null) {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.toString().endsWith(".safetensors")).sorted().forEach(out::add);
            }
        }
        return out;
    }

    /** The shared/oracle directory, or null. */
    public static Path directory() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path cand = p.resolve("shared").resolve("oracle");
            if (Files.isDirectory(cand)) {
                return cand;
            }
        }
        return null;
    }

    public static Path file(String name) {
        Path d = directory();
        return d == null ? null : d.resolve(name);
    }
}
