package org.leanseg.backend.reference;

import org.leanseg.backend.Buffer;

/**
 * Reference-backend memory: a float array in which every element of any dtype takes one float slot
 * (see Tensor). A plan's byte offset {@code o} is slot {@code o / slotBytes}: 4 for arenas of 4-byte
 * values, 2 for arenas that hold 16-bit values (Note [Mixed precision] in tensor/Precision), so that
 * a 16-bit value of n elements, planned at 2n bytes, has its n slots, and values whose planned bytes
 * do not overlap never share a slot.
 */
public record RefBuffer(float[] data, int slotBytes) implements Buffer {
    public RefBuffer(float[] data) {
        this(data, 4);
    }

    /** The plan's bytes this buffer addresses (its heap is {@code 4 * data.length}). */
    @Override
    public long bytes() {
        return (long) slotBytes * data.length;
    }
}
