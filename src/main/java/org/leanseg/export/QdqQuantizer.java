package org.leanseg.export;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.export.onnx.OnnxProto.GraphProto;
import org.leanseg.export.onnx.OnnxProto.ModelProto;
import org.leanseg.export.onnx.OnnxProto.NodeProto;
import org.leanseg.export.onnx.OnnxProto.StringStringEntryProto;
import org.leanseg.export.onnx.OnnxProto.TensorProto;

/**
 * Static int8 post-training quantisation of an exported fp32 model into QDQ ONNX, the form ONNX
 * Runtime fuses into QLinearConv and its other int8 kernels:
 * <ul>
 *   <li>every Conv weight becomes int8, per output channel, symmetric ({@code s_c = max|w_c|/127},
 *       zero point 0), read through DequantizeLinear(axis 0); its bias int32 at scale
 *       {@code s_x·s_c}, as QLinearConv takes it;</li>
 *   <li>every float activation (the image, each op's output except the final logits) gets a
 *       QuantizeLinear and, for each reader, a DequantizeLinear: per tensor, 8-bit asymmetric over
 *       its calibrated {@link Calibration.Range}, stored as uint8 (U8S8, ONNX Runtime's format for
 *       x86 CPUs: with int8 activations its CPU provider left every Conv reading a signed tensor,
 *       a projection or a residual sum, in float; with uint8 it fuses all of them, QuantizeTest);</li>
 *   <li>a Relu or Clip that is the only reader of a Conv's output is dropped and the Conv writes
 *       the activation's output: the activation's range (floor 0, top at most 6 for ReLU6) makes
 *       the int8 saturation do the clipping, as ONNX Runtime's own quantiser does.</li>
 * </ul>
 *
 * <p>Names: the int8 weights and int32 biases keep their fp32 initializer's name plus {@code .int8} /
 * {@code .int32}; the scales, zero points and Q/DQ outputs it adds are short {@code qdq:} ids (the
 * names are a real part of a small model's file: about 4% of a width-0.5 MobileNetV2's with long ones).
 *
 * <pre>{@code
 * ModelProto int8 = QdqQuantizer.quantize(exported.model(), ranges, "minmax");
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=QuantizeTest}.
 */
public final class QdqQuantizer {
    private static final float MIN_SCALE = 1e-8f;

    private QdqQuantizer() {
    }

    /**
     * Whether this machine's CPU needs 7-bit weights (Note [Reduced weight range]): true unless
     * /proc/cpuinfo lists a VNNI extension (avx512_vnni, avx_vnni or amx_int8); true where it cannot be read.
     */
    public static boolean cpuNeedsReducedRange() {
        try {
            String flags = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
            return !(flags.contains(" avx512_vnni") || flags.contains(" avx_vnni") || flags.contains(" amx_int8"));
        } catch (java.io.IOException | RuntimeException e) {
            return true;
        }
    }

    /** The QDQ model; {@code method} is recorded in the metadata as {@code quantization}. */
    public static ModelProto quantize(ModelProto fp32, Map<String, Calibration.Range> ranges, String method) {
        return quantize(fp32, ranges, method, false);
    }

    /**
     * As {@link #quantize(ModelProto, Map, String)}; with {@code reduceRange} the weights use 7 bits
     * ({@code s_c = max|w_c|/63}), Note [Reduced weight range].
     *
     * <p>Note [Reduced weight range]: on x86 CPUs without VNNI (AVX2, AVX-512 before VNNI), ONNX
     * Runtime's u8·s8 kernels add pairs of uint8 x int8 products in 16 bits, which saturate when both
     * products are large (255·127·2 > 32767). Weights in [-63, 63] keep every pair in range, at the
     * cost of one bit of weight resolution; ONNX Runtime's own quantiser offers the same
     * {@code reduce_range} switch for these CPUs. Measured in docs/benchmarks.md (issue 13).
     */
    public static ModelProto quantize(ModelProto fp32, Map<String, Calibration.Range> ranges, String method, boolean reduceRange) {
        int weightMax = reduceRange ? 63 : 127;
        GraphProto g = fp32.getGraph();
        Map<String, TensorProto> inits = new LinkedHashMap<>();
        g.getInitializerList().forEach(t -> inits.put(t.getName(), t));
        List<NodeProto> nodes = dropActivationsAfterConv(g.getNodeList(), outputNames(g));
        OnnxBuilder b = new OnnxBuilder(g.getName());
        // each Conv's weight and bias become int8/int32 initializers behind a DequantizeLinear placed first
        Map<String, Quantized> quantized = new HashMap<>(); // float tensor -> its QuantizeLinear
        Set<String> logitsSources = new HashSet<>();
        for (NodeProto n : nodes) {
            if (n.getOpType().equals("Identity") && outputNames(g).contains(n.getOutput(0))) {
                logitsSources.add(n.getInput(0));
            }
        }
        List<NodeProto> body = new ArrayList<>();
        String image = g.getInput(0).getName();
        quantizeActivation(b, image, ranges, quantized, body);
        for (NodeProto n : nodes) {
            NodeProto.Builder nb = n.toBuilder();
            for (int i = 0; i < n.getInputCount(); i++) {
                String in = n.getInput(i);
                Quantized qt = quantized.get(in);
                if (qt != null && !n.getOpType().equals("Shape")) {
                    // one DequantizeLinear per reader: ORT's QDQ node units each want their own
                    String d = b.unique(qt.q() + "d");
                    body.add(NodeProto.newBuilder().setOpType("DequantizeLinear")
                            .addInput(qt.q()).addInput(qt.scale()).addInput(qt.zeroPoint()).addOutput(d).build());
                    nb.setInput(i, d);
                }
            }
            if (n.getOpType().equals("Conv")) {
                Quantized sx = quantized.get(n.getInput(0));
                if (sx == null) {
                    throw new ExportException("Conv '" + n.getName() + "' reads '" + n.getInput(0) + "', which has no calibration range");
                }
                Weight w = weight(b, inits.remove(n.getInput(1)), body, weightMax);
                nb.setInput(1, w.name());
                if (n.getInputCount() > 2) {
                    nb.setInput(2, bias(b, inits.remove(n.getInput(2)), sx.scaleValue(), w.scales(), body));
                }
            }
            body.add(nb.build());
            String out = n.getOutput(0);
            if (!n.getOpType().equals("Shape") && ranges.containsKey(out) && !logitsSources.contains(out)) {
                quantizeActivation(b, out, ranges, quantized, body);
            }
        }
        GraphProto.Builder ng = g.toBuilder().clearNode().clearInitializer().addAllNode(body);
        Set<String> read = new HashSet<>();
        body.forEach(n -> read.addAll(n.getInputList()));
        inits.values().stream().filter(t -> read.contains(t.getName())).forEach(ng::addInitializer); // dropped Clips' bounds go
        ng.addAllInitializer(b.graph().getInitializerList());
        ModelProto.Builder m = fp32.toBuilder().setGraph(ng);
        m.addMetadataProps(StringStringEntryProto.newBuilder().setKey("quantization")
                .setValue("static int8 QDQ: weights per-channel symmetric, activations per-tensor asymmetric uint8, calibration " + method));
        return m.build();
    }

    private static Set<String> outputNames(GraphProto g) {
        Set<String> s = new HashSet<>();
        g.getOutputList().forEach(o -> s.add(o.getName()));
        return s;
    }

    /** Drops each Relu/Clip whose input is a Conv output read by it alone; the Conv writes its output. */
    static List<NodeProto> dropActivationsAfterConv(List<NodeProto> nodes, Set<String> graphOutputs) {
        Map<String, Integer> readers = new HashMap<>();
        Map<String, Integer> producer = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            nodes.get(i).getInputList().forEach(t -> readers.merge(t, 1, Integer::sum));
            producer.put(nodes.get(i).getOutput(0), i);
        }
        List<NodeProto> out = new ArrayList<>(nodes);
        Set<Integer> dropped = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto n = nodes.get(i);
            if (!(n.getOpType().equals("Relu") || n.getOpType().equals("Clip"))) {
                continue;
            }
            Integer p = producer.get(n.getInput(0));
            if (p != null && nodes.get(p).getOpType().equals("Conv") && readers.get(n.getInput(0)) == 1
                    && !graphOutputs.contains(n.getInput(0))) {
                out.set(p, out.get(p).toBuilder().setOutput(0, n.getOutput(0)).build());
                dropped.add(i);
            }
        }
        List<NodeProto> kept = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            if (!dropped.contains(i)) {
                kept.add(out.get(i));
            }
        }
        return kept;
    }

    /** A quantized activation: its QuantizeLinear's output, scale and zero point (initializer names) and scale value. */
    private record Quantized(String q, String scale, String zeroPoint, float scaleValue) {
    }

    private static void quantizeActivation(OnnxBuilder b, String t, Map<String, Calibration.Range> ranges,
                                           Map<String, Quantized> quantized, List<NodeProto> body) {
        Calibration.Range r = ranges.get(t);
        if (r == null) {
            throw new ExportException("no calibration range for tensor '" + t + "'; calibrate on the exported model's own graph");
        }
        float lo = Math.min(0f, r.min());
        float hi = Math.max(0f, r.max());
        float scale = Math.max((hi - lo) / 255f, MIN_SCALE);
        int zp = (int) Math.max(0, Math.min(255, Math.round(-lo / scale)));
        String id = "qdq:a" + quantized.size();
        String s = b.floats(id + "s", new long[0], new float[] {scale});
        String z = b.uint8s(id + "z", new long[0], new byte[] {(byte) zp});
        String q = b.unique(id + "q");
        body.add(NodeProto.newBuilder().setOpType("QuantizeLinear").addInput(t).addInput(s).addInput(z).addOutput(q).build());
        quantized.put(t, new Quantized(q, s, z, scale));
    }

    /** A quantised weight: its dequantized tensor's name and per-channel scales. */
    private record Weight(String name, float[] scales) {
    }

    /** int8 per-channel symmetric weights behind a DequantizeLinear(axis 0). */
    private static Weight weight(OnnxBuilder b, TensorProto w, List<NodeProto> body, int weightMax) {
        float[] d = floats(w);
        int cout = (int) w.getDims(0);
        int per = d.length / cout;
        float[] scales = new float[cout];
        byte[] q = new byte[d.length];
        for (int c = 0; c < cout; c++) {
            float m = 0;
            for (int i = 0; i < per; i++) {
                m = Math.max(m, Math.abs(d[c * per + i]));
            }
            scales[c] = Math.max(m / weightMax, MIN_SCALE);
            for (int i = 0; i < per; i++) {
                q[c * per + i] = (byte) Math.max(-weightMax, Math.min(weightMax, Math.round(d[c * per + i] / scales[c])));
            }
        }
        long[] dims = w.getDimsList().stream().mapToLong(Long::longValue).toArray();
        String qn = b.int8s(w.getName() + ".int8", dims, q);
        String id = "qdq:w" + body.size();
        String sn = b.floats(id + "s", new long[] {cout}, scales);
        String out = b.unique(id + "d");
        body.add(0, dequantize(qn, sn, out));
        return new Weight(out, scales);
    }

    /** int32 bias at scale s_x·s_c per channel, zero point 0, as QLinearConv reads it. */
    private static String bias(OnnxBuilder b, TensorProto bias, float sx, float[] sw, List<NodeProto> body) {
        float[] d = floats(bias);
        int[] q = new int[d.length];
        float[] scales = new float[d.length];
        for (int c = 0; c < d.length; c++) {
            scales[c] = sx * sw[c];
            q[c] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, Math.round((double) d[c] / scales[c])));
        }
        String qn = b.int32s(bias.getName() + ".int32", new long[] {d.length}, q);
        String id = "qdq:b" + body.size();
        String sn = b.floats(id + "s", new long[] {d.length}, scales);
        String out = b.unique(id + "d");
        body.add(0, dequantize(qn, sn, out));
        return out;
    }

    /** Per-channel DequantizeLinear without a zero point (0, as symmetric weights and int32 biases have): 5 bytes a channel less. */
    private static NodeProto dequantize(String q, String s, String out) {
        return NodeProto.newBuilder().setOpType("DequantizeLinear").addInput(q).addInput(s)
                .addOutput(out).addAttribute(OnnxBuilder.integer("axis", 0)).build();
    }

    static float[] floats(TensorProto t) {
        if (t.getDataType() != TensorProto.DataType.FLOAT.getNumber() || t.getRawData().isEmpty()) {
            throw new ExportException("initializer '" + t.getName() + "' is not a raw float tensor; quantize models written by leanseg export");
        }
        float[] d = new float[t.getRawData().size() / 4];
        ByteBuffer.wrap(t.getRawData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(d);
        return d;
    }
}
