package org.leanseg.io;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the PyTorch oracle files ({@code shared/oracle/*.safetensors}): the directory named by
 * the system property {@code leanseg.oracle.dir}, else the first {@code shared/oracle} found
 * walking up from the working directory (the repository sits beside {@code shared/}).
 */
public final class OracleFiles {
    private OracleFiles() {
    }

    public static Optional<Path> find(String fileName) {
        String dir = System.getProperty("leanseg.oracle.dir");
        if (dir != null) {
            Path p = Path.of(dir, fileName);
            return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("shared").resolve("oracle").resolve(fileName);
            if (Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
