package org.leanseg.backend.cpu;

import org.leanseg.backend.Buffer;

/** Native memory owned by a {@link CpuBackend}: 64-byte aligned, zeroed when allocated. */
public record CpuBuffer(long address, long bytes, String label) implements Buffer {
}
