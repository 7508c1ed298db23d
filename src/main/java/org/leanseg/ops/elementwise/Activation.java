package org.leanseg.ops.elementwise;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * ReLU ({@code max(x,0)}) and ReLU6 ({@code min(max(x,0),6)}). The backward reads the output
 * only (gradient passes where 0 < y < cap), so the input need not be kept: see
 * Note [Backward from the output].
 */
public record Activation(Kind kind) implements Op {
    /** The activation functions. */
    public enum Kind {
        RELU(Float.POSITIVE_INFINITY), RELU6(6f);

        private final float cap;
        private final int capBitsMinusOne;

        Kind(float cap) {
            this.cap = cap;
            this.capBitsMinusOne = Float.floatToRawIntBits(cap) - 1;
        }

        public float cap() {
            return cap;
        }

        /**
         * min(max(x, 0), cap), the same expression as the ReLU kernel's (NaN stays NaN, as in
         * PyTorch). Branch-free: ReLU's inputs are about half negative, and a data-dependent branch
         * here made the fused ReLU6·depthwise kernels twice as slow as the plain ones.
         */
        public float apply(float x) {
            return Math.min(Math.max(x, 0f), cap);
        }

        /** Whether the gradient passes, decided from the output y. */
        public boolean passes(float y) {
            return y > 0 && y < cap;
        }

        /**
         * {@code passes(y) ? g : 0f}, without a branch. The pass mask of a ReLU's output is data
         * dependent and unpredictable (about half the values are 0), and the branch (or a
         * conditional expression, which C2 compiles to one) cost 4-5 ns per element in
         * mispredictions, 7x the whole masked copy. On the bits: 0 < y < cap holds exactly when
         * {@code 1 <= bits(y) < bits(cap)} as signed ints (negative floats and -0.0 have the sign
         * bit set; NaN with a clear sign bit lies above +∞'s bits; cap is positive), i.e. when
         * {@code b = bits(y) - 1} is not negative and {@code b - (bits(cap) - 1)} is, a subtraction
         * that cannot overflow once b >= 0.
         */
        public float gate(float y, float g) {
            int b = Float.floatToRawIntBits(y) - 1;
            int mask = ~(b >> 31) & ((b - capBitsMinusOne) >> 31);
            return Float.intBitsToFloat(Float.floatToRawIntBits(g) & mask);
        }
    }

    public static Activation relu() {
        return new Activation(Kind.RELU);
    }

    public static Activation relu6() {
        return new Activation(Kind.RELU6);
    }

    /** Cheap to recompute in backward (graph/passes/RecomputeCheapOps). */
    @Override
    public Replay cheapToReplay() {
        return Replay.CHEAP;
    }

    @Override
    public String name() {
        return kind == Kind.RELU ? "relu" : "relu6";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input, got " + in.size());
        return List.of(in.get(0));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        return List.of(g.apply1(new ActivationBackward(kind), node.output(0), gradOut.get(0)));
    }

    /** Elementwise, so y may overwrite x; the backward reads y only. */
    @Override
    public int inPlaceInput(int output) {
        return 0;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel();
    }

    public static void reference(Activation op, RefView[] in, RefView[] out) {
        float[] x = in[0].data();
        int xo = in[0].offset();
        float[] y = out[0].data();
        int yo = out[0].offset();
        float cap = op.kind.cap();
        Parallel.range(in[0].size(), 1 << 15, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                y[yo + i] = Math.min(Math.max(x[xo + i], 0f), cap);
            }
        });
    }
}
