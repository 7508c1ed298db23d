package org.leanseg.backend.reference;

import org.leanseg.backend.Buffer;

/** Reference-backend memory: a float array; every dtype uses 4-byte slots (see Tensor). */
public record RefBuffer(float[] data) implements Buffer {
    @Override
    public long bytes() {
        return 4L * data.length;
    }
}
