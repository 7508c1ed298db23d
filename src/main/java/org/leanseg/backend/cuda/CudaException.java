package org.leanseg.backend.cuda;

/** A failed CUDA, driver or cuDNN call; the message names the call and the library's error. */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CudaException(String message) {
        super(message);
    }
}
