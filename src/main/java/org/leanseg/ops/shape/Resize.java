package org.leanseg.ops.shape;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Bilinear resize of [N, C, H, W] to [N, C, outH, outW] with PyTorch's
 * {@code F.interpolate(x, size=(outH, outW), mode="bilinear", align_corners=...)} semantics
 * (MODEL_SPEC.md "Bilinear"; taps from {@link BilinearAxis}). {@code alignCorners=false} is the
 * model's setting; {@code true} maps corner pixel centres onto each other. Backward:
 * {@link ResizeBackward}.
 *
 * <pre>{@code
 * Value up = g.apply1(new Resize(128, 128, false), logits); // [N, K, 128, 128]
 * }</pre>
 * Reference check: {@code mvn -Dtest=ResizeTest test}.
 */
public record Resize(int outH, int outW, boolean alignCorners) implements Op {
    public Resize {
        if (outH < 1 || outW < 1) {
            throw new IllegalArgumentException("resize_bilinear needs a positive output size, got " + outH + "x" + outW);
        }
    }

    /** The model's resize: align_corners = false. */
    public static Resize to(int outH, int outW) {
        return new Resize(outH, outW, false);
    }

    /** Cheap to recompute in backward (graph/passes/RecomputeCheapOps). */
    @Override
    public Replay cheapToReplay() {
        return Replay.CHEAP;
    }

    @Override
    public String name() {
        return "resize_bilinear";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input, got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "input");
        OpException.check(in.get(0).dtype().isFloating(), "input must be a float tensor, got " + in.get(0));
        OpException.check(s.dim(2) > 0 && s.dim(3) > 0, "input has an empty plane: " + s);
        return List.of(new TensorSpec(Shape.of(s.dim(0), s.dim(1), outH, outW), in.get(0).dtype()));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Shape s = node.input(0).spec().shape();
        return List.of(g.apply1(new ResizeBackward(s.dim(2), s.dim(3), alignCorners), gradOut.get(0)));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape s = in.get(0).shape();
        return 7L * s.dim(0) * s.dim(1) * outH * outW;
    }

    /** Reference kernel: one task per (n, c, output row); each output is a weighted sum of 4 taps. */
    public static void reference(Resize op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Shape s = x.shape();
        int inH = s.dim(2);
        int inW = s.dim(3);
        BilinearAxis rows = BilinearAxis.of(inH, op.outH, op.alignCorners);
        BilinearAxis cols = BilinearAxis.of(inW, op.outW, op.alignCorners);
        int planes = s.dim(0) * s.dim(1);
        Parallel.range(planes * op.outH, ShapeChecks.grain(op.outW * 4L), (lo, hi) -> {
            float[] xd = x.data();
            for (int t = lo; t < hi; t++) {
                int p = t / op.outH;
                int i = t % op.outH;
                int r0 = x.offset() + (p * inH + rows.i0()[i]) * inW;
                int r1 = x.offset() + (p * inH + rows.i1()[i]) * inW;
                double h0 = rows.w0()[i];
                double h1 = rows.w1()[i];
                int yb = t * op.outW;
                for (int j = 0; j < op.outW; j++) {
                    int c0 = cols.i0()[j];
                    int c1 = cols.i1()[j];
                    double top = cols.w0()[j] * xd[r0 + c0] + cols.w1()[j] * xd[r0 + c1];
                    double bottom = cols.w0()[j] * xd[r1 + c0] + cols.w1()[j] * xd[r1 + c1];
                    y.set(yb + j, (float) (h0 * top + h1 * bottom));
                }
            }
        });
    }
}
