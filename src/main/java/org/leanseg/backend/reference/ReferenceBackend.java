package org.leanseg.backend.reference;

import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.View;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** The pure-Java backend every other kernel is checked against. Byte offsets must be 4-aligned. */
public final class ReferenceBackend implements Backend {
    @Override
    public String name() {
        return "reference";
    }

    @Override
    public Buffer allocate(long bytes) {
        long floats = (bytes + 3) / 4;
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("reference arena of " + bytes + " bytes exceeds one Java array (8 GiB)");
        }
        return new RefBuffer(new float[(int) floats]);
    }

    @Override
    public View view(Buffer buffer, long byteOffset, TensorSpec spec) {
        if (byteOffset % 4 != 0) {
            throw new IllegalArgumentException("unaligned offset " + byteOffset);
        }
        RefBuffer b = (RefBuffer) buffer;
        long end = byteOffset / 4 + spec.shape().numel();
        if (end > b.data().length) {
            throw new IllegalArgumentException("view " + spec + " at " + byteOffset + " overruns buffer of " + b.bytes() + " bytes");
        }
        return new RefView(b.data(), (int) (byteOffset / 4), spec);
    }

    @Override
    public Buffer adopt(Tensor host) {
        return new RefBuffer(host.data());
    }

    @Override
    public void upload(Tensor src, View dst) {
        RefView v = (RefView) dst;
        System.arraycopy(src.data(), 0, v.data(), v.offset(), v.size());
    }

    @Override
    public void download(View src, Tensor dst) {
        RefView v = (RefView) src;
        if (v.data() != dst.data()) {
            System.arraycopy(v.data(), v.offset(), dst.data(), 0, v.size());
        }
    }

    @Override
    public void synchronize() {
        // kernels run synchronously on the calling thread and the common pool
    }

    @Override
    public void close() {
        // arrays are garbage collected
    }
}
