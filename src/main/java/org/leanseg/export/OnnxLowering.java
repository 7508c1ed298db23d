package org.leanseg.export;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.leanseg.exec.VariableStore;
import org.leanseg.export.onnx.OnnxProto.TensorProto;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.Shape;

/**
 * One LeanSeg op → ONNX nodes (opset 13 forms, unchanged up to {@link ExportOptions#MAX_OPSET}):
 * conv2d → Conv; eval batch_norm → BatchNormalization (or folded, Note [BN folding]); relu → Relu;
 * relu6 → Clip(0, 6); the fused activation·depthwise convs → Relu/Clip then Conv; add → Add;
 * concat → Concat(axis 1); global_avg_pool → GlobalAveragePool; resize_bilinear → Resize (linear,
 * {@code half_pixel} or {@code align_corners}, Note [Resize coordinates]); channel_slice → Slice;
 * scale → Mul; argmax → ArgMax then Cast to int32. Any other op (training BatchNorm, losses,
 * backward and optimizer ops) is an {@link ExportException} naming it.
 */
final class OnnxLowering {
    private final OnnxBuilder b;
    private final VariableStore store;
    private final Map<Value, String> names;
    private final boolean dynamic;
    private final Map<Node, Value> sizeSources;

    OnnxLowering(OnnxBuilder b, VariableStore store, Map<Value, String> names, boolean dynamic, Map<Node, Value> sizeSources) {
        this.b = b;
        this.store = store;
        this.names = names;
        this.dynamic = dynamic;
        this.sizeSources = sizeSources;
    }

    void node(Node n) {
        Op op = n.op();
        String stage = n.stage();
        names.put(n.output(0), lower(n, op, n.stage()));
    }

    private String lower(Node n, Op op, String stage) {
        if (op instanceof Conv2d c) {
            return conv(n, c, name(n.input(0)));
        }
        if (op instanceof ActConv2d a) {
            return conv(n, a.conv(), activation(a.act(), stage, name(n.input(0))));
        }
        if (op instanceof BatchNorm bn && !bn.training()) {
            return b.node("BatchNormalization", stage,
                    List.of(name(n.input(0)), weight(n.input(1)), weight(n.input(2)), weight(n.input(3)), weight(n.input(4))),
                    OnnxBuilder.real("epsilon", (float) bn.eps()));
        }
        if (op instanceof Activation a) {
            return activation(a.kind(), stage, name(n.input(0)));
        }
        if (op instanceof Add) {
            return b.node("Add", stage, List.of(name(n.input(0)), name(n.input(1))));
        }
        if (op instanceof Concat) {
            return b.node("Concat", stage, n.inputs().stream().map(this::name).toList(), OnnxBuilder.integer("axis", 1));
        }
        if (op instanceof GlobalAvgPool) {
            return b.node("GlobalAveragePool", stage, List.of(name(n.input(0))));
        }
        if (op instanceof Resize r) {
            return resize(n, r);
        }
        if (op instanceof ChannelSlice s) {
            return b.node("Slice", stage, List.of(name(n.input(0)),
                    b.longs(stage + "/slice_starts", new long[] {1}, s.start()),
                    b.longs(stage + "/slice_ends", new long[] {1}, s.start() + s.count()),
                    b.longs(stage + "/slice_axes", new long[] {1}, 1)));
        }
        if (op instanceof Scale s) {
            return b.node("Mul", stage, List.of(name(n.input(0)), b.floats(stage + "/scale", new long[0], new float[] {s.factor()})));
        }
        if (op instanceof Argmax) {
            String idx = b.node("ArgMax", stage, List.of(name(n.input(0))), OnnxBuilder.integer("axis", 1), OnnxBuilder.integer("keepdims", 0));
            return b.node("Cast", stage, List.of(idx), OnnxBuilder.integer("to", TensorProto.DataType.INT32.getNumber()));
        }
        throw new ExportException("op '" + op.name() + "' at stage '" + stage + "' has no ONNX form "
                + (op instanceof BatchNorm ? "in training mode" : "(" + op + ")")
                + "; export the eval-mode inference graph (leanseg export traces it from the checkpoint)");
    }

    /** The conv of {@code conv} with the eval BatchNorm {@code bn} after it folded in (Note [BN folding]). */
    String convWithBatchNorm(Node conv, Node bn) {
        BatchNorm op = (BatchNorm) bn.op();
        float[] w = store.get(conv.input(1).variable()).data();
        float[] gamma = data(bn.input(1));
        float[] beta = data(bn.input(2));
        float[] mean = data(bn.input(3));
        float[] var = data(bn.input(4));
        int cout = gamma.length;
        int per = w.length / cout;
        float[] fw = new float[w.length];
        float[] fb = new float[cout];
        for (int c = 0; c < cout; c++) {
            double k = gamma[c] / Math.sqrt(var[c] + op.eps());
            for (int i = 0; i < per; i++) {
                fw[c * per + i] = (float) (w[c * per + i] * k);
            }
            double bias = conv.inputs().size() == 3 ? data(conv.input(2))[c] : 0;
            fb[c] = (float) ((bias - mean[c]) * k + beta[c]);
        }
        String base = conv.input(1).variable().name().replace(".weight", "");
        String wn = b.floats(base + ".weight_bn_folded", dims(conv.input(1).spec().shape()), fw);
        String bnm = b.floats(base + ".bias_bn_folded", new long[] {cout}, fb);
        return convNode(conv.stage(), (Conv2d) conv.op(), name(conv.input(0)), wn, bnm, conv.input(1).spec().shape());
    }

    private String conv(Node n, Conv2d c, String x) {
        String w = weight(n.input(1));
        String bias = n.inputs().size() == 3 ? weight(n.input(2)) : null;
        return convNode(n.stage(), c, x, w, bias, n.input(1).spec().shape());
    }

    private String convNode(String stage, Conv2d c, String x, String w, String bias, Shape ws) {
        List<String> in = new ArrayList<>(List.of(x, w));
        if (bias != null) {
            in.add(bias);
        }
        return b.node("Conv", stage, in,
                OnnxBuilder.ints("kernel_shape", ws.dim(2), ws.dim(3)),
                OnnxBuilder.ints("strides", c.strideH(), c.strideW()),
                OnnxBuilder.ints("pads", c.padH(), c.padW(), c.padH(), c.padW()),
                OnnxBuilder.ints("dilations", c.dilationH(), c.dilationW()),
                OnnxBuilder.integer("group", c.groups()));
    }

    private String activation(Activation.Kind kind, String stage, String x) {
        if (kind == Activation.Kind.RELU) {
            return b.node("Relu", stage, List.of(x));
        }
        return b.node("Clip", stage, List.of(x, b.floats(stage + "/clip_min", new long[0], new float[] {0f}),
                b.floats(stage + "/clip_max", new long[0], new float[] {kind.cap()})));
    }

    /**
     * Note [Resize coordinates]: our bilinear source coordinate is PyTorch's,
     * {@code max((i + 0.5)·in/out − 0.5, 0)} for align_corners=false and {@code i·(in−1)/(out−1)}
     * for true (ShapeMath.bilinearSource). ONNX's {@code half_pixel} is the first before the clamp,
     * and ONNX Runtime clamps source coordinates to the input, so it matches at every size,
     * including an output of 1 pixel where {@code pytorch_half_pixel} would sample pixel 0 instead
     * of the centre; {@code align_corners} is the second. With {@code sizes} given, ONNX's scale is
     * out/in exactly as ours.
     */
    private String resize(Node n, Resize r) {
        String stage = n.stage();
        String x = name(n.input(0));
        String sizes;
        if (dynamic) {
            String ref = sizeSourceName(n);
            String xShape = b.node("Shape", stage, List.of(x));
            String refShape = b.node("Shape", stage, List.of(ref));
            String nc = b.node("Slice", stage, List.of(xShape, b.longs(stage + "/nc_start", new long[] {1}, 0),
                    b.longs(stage + "/nc_end", new long[] {1}, 2)));
            String hw = b.node("Slice", stage, List.of(refShape, b.longs(stage + "/hw_start", new long[] {1}, 2),
                    b.longs(stage + "/hw_end", new long[] {1}, 4)));
            sizes = b.node("Concat", stage, List.of(nc, hw), OnnxBuilder.integer("axis", 0));
        } else {
            Shape s = n.input(0).spec().shape();
            sizes = b.longs(stage + "/resize_sizes", new long[] {4}, s.dim(0), s.dim(1), r.outH(), r.outW());
        }
        return b.node("Resize", stage, List.of(x, "", "", sizes),
                OnnxBuilder.string("mode", "linear"),
                OnnxBuilder.string("coordinate_transformation_mode", r.alignCorners() ? "align_corners" : "half_pixel"));
    }

    /** The ONNX name of the tensor a dynamic resize takes its size from (a conv folded with its BN is named by the BN). */
    private String sizeSourceName(Node n) {
        Value src = sizeSources.get(n);
        String name = src == null ? null : names.get(src);
        if (name == null && src != null) {
            for (Node u : src.users()) {
                name = name != null ? name : names.get(u.output(0));
            }
        }
        if (name == null) {
            throw new ExportException("resize at stage '" + n.stage() + "' has no exported tensor to take its size from, "
                    + "so it cannot be exported with --dynamic; export a fixed --size instead");
        }
        return name;
    }

    private String name(Value v) {
        String n = names.get(v);
        if (n == null) {
            throw new ExportException("value " + v + " is read before it is written (only eval forward graphs export)");
        }
        return n;
    }

    /** A variable's initializer, written once under its state_dict name. */
    private String weight(Value v) {
        String n = names.get(v);
        if (n == null) {
            if (v.variable() == null) {
                throw new ExportException("input " + v + " is neither a weight nor computed earlier");
            }
            n = b.floats(v.variable().name(), dims(v.spec().shape()), store.get(v.variable()).data());
            names.put(v, n);
        }
        return n;
    }

    private float[] data(Value v) {
        return store.get(v.variable()).data();
    }

    private static long[] dims(Shape s) {
        long[] d = new long[s.rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = s.dim(i);
        }
        return d;
    }
}
