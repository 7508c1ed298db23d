package org.leanseg.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file that cannot be read or written: truncated, hostile or simply malformed. The
 * message always names the file and the problem, e.g.
 * {@code "model.safetensors: tensor 'w': data_offsets [0, 64] end past the data section (32 bytes)"}.
 */
public class SafetensorsException extends IOException {
    public SafetensorsException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public SafetensorsException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
