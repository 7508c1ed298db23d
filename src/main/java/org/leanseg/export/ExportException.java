package org.leanseg.export;

/**
 * A graph or request that cannot be written as ONNX: an op without an ONNX form, an opset outside
 * the supported range, a resize whose size has no source in a {@code --dynamic} export. The message
 * is one line that names the op or option and the fix.
 */
public final class ExportException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ExportException(String message) {
        super(message);
    }
}
