package org.leanseg.backend;

/**
 * Free and total bytes of a device as its driver reports them (CUDA: cudaMemGetInfo): everything on
 * the card counts, other processes, the CUDA context and library handles included.
 */
public record DeviceMemory(long freeBytes, long totalBytes) {
    public long usedBytes() {
        return totalBytes - freeBytes;
    }
}
