package org.leanseg.export;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.leanseg.export.onnx.OnnxProto.AttributeProto;
import org.leanseg.export.onnx.OnnxProto.GraphProto;
import org.leanseg.export.onnx.OnnxProto.NodeProto;
import org.leanseg.export.onnx.OnnxProto.TensorProto;
import org.leanseg.export.onnx.OnnxProto.TensorShapeProto;
import org.leanseg.export.onnx.OnnxProto.TypeProto;
import org.leanseg.export.onnx.OnnxProto.ValueInfoProto;

/**
 * Appends nodes and initializers to an ONNX {@code GraphProto} with unique tensor names. Tensors
 * are written as little-endian {@code raw_data}, as the ONNX spec stores them.
 *
 * <pre>{@code
 * OnnxBuilder b = new OnnxBuilder("deeplabv3plus");
 * String w = b.floats("conv.weight", new long[] {8, 3, 3, 3}, weights);
 * String y = b.node("Conv", "stem", List.of("image", w), OnnxBuilder.ints("pads", 1, 1, 1, 1));
 * }</pre>
 */
final class OnnxBuilder {
    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Set<String> names = new HashSet<>();
    private int counter;

    OnnxBuilder(String name) {
        graph.setName(name);
    }

    GraphProto.Builder graph() {
        return graph;
    }

    /** A name not used before, {@code base} itself when it is free. */
    String unique(String base) {
        String n = base;
        while (!names.add(n)) {
            n = base + "_" + (++counter);
        }
        return n;
    }

    /** Appends {@code op} with one output named after {@code stage}; returns the output name. */
    String node(String op, String stage, List<String> inputs, AttributeProto... attributes) {
        String out = unique((stage.isEmpty() ? "" : stage + "/") + op);
        node(op, inputs, List.of(out), attributes);
        return out;
    }

    /** Appends a node with given output names (reserved here if new). */
    void node(String op, List<String> inputs, List<String> outputs, AttributeProto... attributes) {
        outputs.forEach(names::add);
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(unique("node/" + outputs.get(0)))
                .addAllInput(inputs).addAllOutput(outputs);
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        graph.addNode(n);
    }

    /** A float initializer; returns its (unique) name. */
    String floats(String name, long[] dims, float[] data) {
        ByteBuffer bb = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(data);
        return initializer(name, dims, TensorProto.DataType.FLOAT, bb.array());
    }

    /** An int64 initializer. */
    String longs(String name, long[] dims, long... data) {
        ByteBuffer bb = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.asLongBuffer().put(data);
        return initializer(name, dims, TensorProto.DataType.INT64, bb.array());
    }

    /** An int8 initializer. */
    String int8s(String name, long[] dims, byte[] data) {
        return initializer(name, dims, TensorProto.DataType.INT8, data);
    }

    /** A uint8 initializer (bytes read as 0..255). */
    String uint8s(String name, long[] dims, byte[] data) {
        return initializer(name, dims, TensorProto.DataType.UINT8, data);
    }

    /** An int32 initializer. */
    String int32s(String name, long[] dims, int[] data) {
        ByteBuffer bb = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.asIntBuffer().put(data);
        return initializer(name, dims, TensorProto.DataType.INT32, bb.array());
    }

    private String initializer(String name, long[] dims, TensorProto.DataType type, byte[] raw) {
        String n = unique(name);
        TensorProto.Builder t = TensorProto.newBuilder().setName(n).setDataType(type.getNumber()).setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        graph.addInitializer(t);
        return n;
    }

    static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto real(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    static AttributeProto string(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(value)).build();
    }

    /**
     * A graph input or output of {@code type} with dims; a dim given as a String is symbolic
     * ({@code "N"}), an Integer fixed.
     */
    static ValueInfoProto tensorInfo(String name, TensorProto.DataType type, List<Object> dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String s) {
                dim.setDimParam(s);
            } else {
                dim.setDimValue(((Number) d).longValue());
            }
            shape.addDim(dim);
        }
        TypeProto t = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(shape)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(t).build();
    }
}
