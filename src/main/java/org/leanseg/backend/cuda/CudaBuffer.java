package org.leanseg.backend.cuda;

import org.leanseg.backend.Buffer;

/** One cudaMalloc'd block owned by a {@link CudaBackend}; freed when the backend closes (or by {@link CudaBackend#free}). */
public record CudaBuffer(long address, long bytes, String label) implements Buffer {
}
