package org.leanseg.export;

import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.exec.VariableStore;
import org.leanseg.export.onnx.OnnxProto.ModelProto;
import org.leanseg.export.onnx.OnnxProto.OperatorSetIdProto;
import org.leanseg.export.onnx.OnnxProto.StringStringEntryProto;
import org.leanseg.export.onnx.OnnxProto.TensorProto;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.nn.Trace;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Writes a model's eval-mode forward graph as ONNX: the graph {@code eval} runs (traced with
 * {@code Trace(g, false)}, no passes), each op lowered by {@link OnnxLowering}, every eval
 * BatchNorm that follows a convolution folded into it (Note [BN folding]). Input {@code image}
 * [N, 3, H, W] float, normalised as in training; output {@code logits} [N, K, H, W].
 *
 * <pre>{@code
 * OnnxExporter.Exported e = OnnxExporter.export(model, store, new ExportOptions(512, 512, false, 17), meta);
 * Files.write(Path.of("model.onnx"), e.model().toByteArray());
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=OnnxExportTest,OrtParityTest}.
 */
public final class OnnxExporter {
    public static final String INPUT = "image";
    public static final String OUTPUT = "logits";

    private OnnxExporter() {
    }

    /**
     * The exported model and, for calibration, which value of the traced graph each float
     * activation tensor of the ONNX graph holds (by {@link Value#id()}: a fresh trace of the same
     * model at the same size has the same ids).
     */
    public record Exported(ModelProto model, Map<String, Integer> tensorValues) {
    }

    /** A traced eval forward: the graph, its image input and its logits. */
    record Traced(Graph graph, Value image, Value logits) {
    }

    static Traced trace(DeepLabV3Plus model, Shape shape) {
        Graph g = new Graph();
        Value x = g.input(INPUT, new TensorSpec(shape, DType.F32));
        Value logits = model.forward(new Trace(g, false), x).logits();
        g.markOutput(logits);
        return new Traced(g, x, logits);
    }

    /** Exports {@code model} with the weights and BN statistics of {@code store}. */
    public static Exported export(DeepLabV3Plus model, VariableStore store, ExportOptions opts, ExportMetadata meta) {
        Traced t = trace(model, Shape.of(1, 3, opts.height(), opts.width()));
        Map<Node, Value> sizeSources = opts.dynamic() ? sizeSources(model, t, opts) : Map.of();
        return export(t, store, opts, meta, sizeSources);
    }

    /** Exports a traced graph (tests use it for graphs that are not a model, e.g. to check the error for an op). */
    static Exported export(Traced t, VariableStore store, ExportOptions opts, ExportMetadata meta, Map<Node, Value> sizeSources) {
        OnnxBuilder b = new OnnxBuilder("leanseg");
        Map<Value, String> names = new IdentityHashMap<>();
        names.put(t.image(), b.unique(INPUT));
        List<Node> schedule = DeadCode.schedule(t.graph());
        Map<Node, Node> folded = foldableBatchNorms(schedule);
        OnnxLowering lower = new OnnxLowering(b, store, names, opts.dynamic(), sizeSources);
        boolean alignCorners = false;
        Map<String, Integer> tensors = new LinkedHashMap<>();
        tensors.put(names.get(t.image()), t.image().id());
        for (Node n : schedule) {
            if (folded.containsValue(n)) {
                continue; // written by its convolution
            }
            Value out;
            if (folded.containsKey(n)) {
                Node bn = folded.get(n);
                names.put(bn.output(0), lower.convWithBatchNorm(n, bn));
                out = bn.output(0);
            } else {
                lower.node(n);
                out = n.output(0);
            }
            if (n.op() instanceof Resize r) {
                alignCorners |= r.alignCorners();
            }
            if (out.spec().dtype() == DType.F32) {
                tensors.put(names.get(out), out.id());
            }
        }
        // the logits tensor gets the public output name through an Identity, so names stay stage paths
        String logits = names.get(t.logits());
        b.node("Identity", List.of(logits), List.of(OUTPUT));
        Shape s = t.logits().spec().shape();
        Shape in = t.image().spec().shape();
        List<Object> inDims = opts.dynamic() ? List.of("N", in.dim(1), "H", "W") : List.of(in.dim(0), in.dim(1), in.dim(2), in.dim(3));
        List<Object> outDims = opts.dynamic() ? List.of("N", s.dim(1), "H", "W") : List.of(s.dim(0), s.dim(1), s.dim(2), s.dim(3));
        b.graph().addInput(OnnxBuilder.tensorInfo(names.get(t.image()), TensorProto.DataType.FLOAT, inDims));
        b.graph().addOutput(OnnxBuilder.tensorInfo(OUTPUT, TensorProto.DataType.FLOAT, outDims));
        ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(opts.irVersion()).setProducerName("LeanSeg")
                .setProducerVersion(version()).setDocString("DeepLabV3+ exported by leanseg export: " + meta.modelConfig())
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opts.opset()))
                .setGraph(b.graph());
        meta.props(alignCorners).forEach((k, v) -> m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return new Exported(m.build(), tensors);
    }

    /**
     * Note [BN folding]: an eval BatchNorm whose input is a convolution's output read by nothing
     * else is folded into that convolution, {@code w' = w·γ/√(σ²+ε)} per output channel and
     * {@code b' = (b − μ)·γ/√(σ²+ε) + β} (in double, then rounded to float once). Conv → BN is every
     * ConvBNAct of both models, the ASPP pooling branch included; a BN elsewhere is written as
     * BatchNormalization. Returns conv node → its BN node.
     */
    static Map<Node, Node> foldableBatchNorms(List<Node> schedule) {
        Set<Node> live = new HashSet<>(schedule);
        Map<Node, Node> folded = new HashMap<>();
        for (Node n : schedule) {
            if (!(n.op() instanceof Conv2d)) {
                continue;
            }
            List<Node> users = n.output(0).users().stream().filter(live::contains).toList();
            if (users.size() == 1 && users.get(0).op() instanceof BatchNorm bn && !bn.training()
                    && users.get(0).input(0) == n.output(0)) {
                folded.put(n, users.get(0));
            }
        }
        return folded;
    }

    /**
     * For a dynamic export, the value whose H x W each resize takes: traced again at another size,
     * the latest earlier value whose spatial size equals the resize's output size in both traces
     * (the input image for the final upsampling, the low-level features for the decoder's).
     */
    private static Map<Node, Value> sizeSources(DeepLabV3Plus model, Traced a, ExportOptions opts) {
        int stride = model.config().outputStride();
        Traced b = trace(model, Shape.of(1, 3, opts.height() + 2 * stride, opts.width() + 4 * stride));
        List<Value> va = a.graph().values();
        List<Value> vb = b.graph().values();
        Map<Node, Value> sources = new IdentityHashMap<>();
        for (Node n : a.graph().nodes()) {
            if (!(n.op() instanceof Resize)) {
                continue;
            }
            Value outB = vb.get(n.output(0).id());
            Value found = null;
            for (int id = n.output(0).id() - 1; id >= 0 && found == null; id--) {
                if (va.get(id).spec().shape().rank() == 4 && va.get(id).spec().dtype() == DType.F32
                        && sameSpatial(va.get(id), n.output(0)) && sameSpatial(vb.get(id), outB)) {
                    found = va.get(id);
                }
            }
            if (found == null) {
                throw new ExportException("resize at stage '" + n.stage() + "' has no tensor of its output size to take the size "
                        + "from, so it cannot be exported with --dynamic; export a fixed --size instead");
            }
            sources.put(n, found);
        }
        return sources;
    }

    private static boolean sameSpatial(Value v, Value w) {
        Shape s = v.spec().shape();
        Shape t = w.spec().shape();
        return s.rank() == 4 && t.rank() == 4 && s.dim(2) == t.dim(2) && s.dim(3) == t.dim(3);
    }

    private static String version() {
        String v = OnnxExporter.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
