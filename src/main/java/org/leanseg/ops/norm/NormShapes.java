package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Shape checks and index arithmetic shared by the normalisation ops (batch norm, group norm and
 * their backward ops). Activations are [N, C, spatial...]; element (n, c, i) sits at
 * {@code (n*C + c)*spatial + i}.
 */
final class NormShapes {
    private NormShapes() {
    }

    /** Checks the input count. */
    static void count(List<TensorSpec> in, int expected, String names) {
        OpException.check(in.size() == expected, "takes " + expected + " inputs (" + names + "), got " + in.size());
    }

    /** Checks that {@code x} is a non-empty f32 tensor of rank >= 2 ([N, C, ...]) and returns its shape. */
    static Shape activation(TensorSpec x, String what) {
        OpException.check(x.dtype().isFloating(), what + " must be a float tensor, got " + x);
        OpException.check(x.shape().rank() >= 2, what + " must be [N, C, H, W] (rank >= 2), got " + x.shape());
        OpException.check(x.shape().numel() > 0, what + " must not be empty, got " + x.shape());
        return x.shape();
    }

    /** Checks that {@code v} is an f32 vector of length {@code len}. */
    static void vector(TensorSpec v, int len, String what, Shape of) {
        OpException.check(v.dtype() == DType.F32 && v.shape().equals(Shape.of(len)),
                what + " must be f32 [" + len + "] to match input " + of + ", got " + v);
    }

    /** Checks that {@code dy} has the same spec as {@code x}. */
    static void sameAs(TensorSpec dy, TensorSpec x, String what) {
        OpException.check(dy.equals(x), what + " must match x " + x + ", got " + dy);
    }

    static int batch(Shape x) {
        return x.dim(0);
    }

    static int channels(Shape x) {
        return x.dim(1);
    }

    /** Elements per (n, c) plane: the product of the spatial dimensions. */
    static int spatial(Shape x) {
        int s = 1;
        for (int i = 2; i < x.rank(); i++) {
            s *= x.dim(i);
        }
        return s;
    }

    /**
     * Planes of at most this many elements (2x2 to 8x8) take per-channel sums with the channel as
     * the innermost loop.
     *
     * <p>Note [Channel-innermost sums]: a channel's statistics are sums over (n, i). Looping over i
     * inside each channel runs, on the deep layers of small inputs, loops of 4-16 iterations whose
     * setup and exits cost more than the arithmetic, and each sum is one chain of dependent double
     * additions. Looping over the channels innermost (one accumulator per channel, strided reads)
     * keeps the loops long and the chains independent. Each channel still adds its elements in
     * (n, i) order, so both nestings give the same bits, whatever the channel block.
     */
    static final int SMALL_PLANE = 64;

    /** Parallel grain (items per task) for loops whose items each touch {@code perItem} elements. */
    static int grain(long perItem) {
        return (int) Math.max(1, (1 << 14) / Math.max(1, perItem));
    }
}
