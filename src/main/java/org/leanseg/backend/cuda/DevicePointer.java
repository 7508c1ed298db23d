package org.leanseg.backend.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * A raw address (device memory, or a host slot we own elsewhere) as a JavaCPP {@link Pointer}, for APIs that take {@code void*} device memory
 * (cuDNN, cudaMemcpy). Owns nothing: the arena or buffer it points into does.
 */
final class DevicePointer extends Pointer {
    DevicePointer(long address) {
        this.address = address;
    }
}
