package org.leanseg.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.export.onnx.OnnxProto.ModelProto;
import org.leanseg.export.onnx.OnnxProto.NodeProto;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The exported graph's form: BN folded, opset and IR version, metadata, Resize coordinates that
 * match ours in ONNX Runtime for both align_corners settings, and the errors for an op without an
 * ONNX form and a bad opset. Check: {@code mvn -B -q test -Dtest=OnnxExportTest}.
 */
class OnnxExportTest {
    @Test
    void batchNormsAreFoldedAndMetadataIsRecorded() {
        ExportFixtures.Model m = ExportFixtures.random(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withClasses(6), 1);
        ModelProto p = OnnxExporter.export(m.model(), m.store(), new ExportOptions(32, 32, false, 13), ExportFixtures.metadata(m.model())).model();
        Map<String, Long> ops = p.getGraph().getNodeList().stream().collect(Collectors.groupingBy(NodeProto::getOpType, Collectors.counting()));
        assertFalse(ops.containsKey("BatchNormalization"), "every BN follows a conv and must be folded: " + ops);
        assertTrue(ops.get("Conv") > 50, "ops " + ops);
        assertEquals(13, p.getOpsetImport(0).getVersion());
        assertEquals(7, p.getIrVersion());
        Map<String, String> meta = p.getMetadataPropsList().stream().collect(Collectors.toMap(e -> e.getKey(), e -> e.getValue()));
        assertTrue(meta.get("normalization").contains("\"mean\""), meta.toString());
        assertEquals(6, meta.get("palette").split("\\],\\[").length, meta.get("palette"));
        assertTrue(meta.get("class_names").startsWith("[\"class 0\""), meta.get("class_names"));
        assertEquals("false", meta.get("align_corners"));
        for (NodeProto n : p.getGraph().getNodeList()) {
            if (n.getOpType().equals("Resize")) {
                assertEquals("half_pixel", n.getAttributeList().stream().filter(a -> a.getName().equals("coordinate_transformation_mode"))
                        .findFirst().orElseThrow().getS().toStringUtf8());
            }
        }
    }

    /** Up- and downsampling, odd sizes and a 1-pixel output, both coordinate settings: ORT equals our Resize kernel. */
    @ParameterizedTest
    @CsvSource({"7,5,13,9,false", "7,5,13,9,true", "9,11,4,3,false", "9,11,4,3,true", "6,6,1,1,false", "6,6,1,1,true"})
    void resizeMatchesOrt(int inH, int inW, int outH, int outW, boolean alignCorners) {
        Graph g = new Graph();
        Value x = g.input(OnnxExporter.INPUT, TensorSpec.f32(1, 2, inH, inW));
        Value y = g.apply1(new Resize(outH, outW, alignCorners), x);
        g.markOutput(y);
        OnnxExporter.Traced t = new OnnxExporter.Traced(g, x, y);
        ModelProto p = OnnxExporter.export(t, new VariableStore(), new ExportOptions(inH, inW, false, 17), meta(), Map.of()).model();
        Tensor in = Tensor.gaussian(Shape.of(1, 2, inH, inW), 1, new Random(inH * 31 + outW));
        Tensor ref;
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(Map.of(x, in));
            ref = ex.read(y);
        }
        try (OrtModel ort = OrtModel.of(p.toByteArray())) {
            double d = ExportFixtures.relMax(ort.run(in), ref);
            assertTrue(d <= 1e-5, "resize " + inH + "x" + inW + " -> " + outH + "x" + outW + " align_corners=" + alignCorners + ": " + d);
        }
    }

    @Test
    void opWithoutOnnxFormIsAClearError() {
        Graph g = new Graph();
        Value x = g.input(OnnxExporter.INPUT, TensorSpec.f32(2, 3, 4, 4));
        Value[] bn = new Value[4];
        for (int i = 0; i < 4; i++) {
            bn[i] = g.variable(new Variable("bn." + i, TensorSpec.f32(3), i < 2 ? Role.PARAMETER : Role.BUFFER));
        }
        Value y;
        try (var s = g.scope("stem")) {
            y = g.apply(BatchNorm.of(true), x, bn[0], bn[1], bn[2], bn[3]).get(0);
        }
        g.markOutput(y);
        ExportException e = assertThrows(ExportException.class, () -> OnnxExporter.export(new OnnxExporter.Traced(g, x, y),
                new VariableStore(), new ExportOptions(4, 4, false, 17), meta(), Map.of()));
        assertTrue(e.getMessage().contains("'batch_norm' at stage 'stem' has no ONNX form in training mode"), e.getMessage());
    }

    @Test
    void opsetOutsideTheSupportedRangeIsAnError() {
        ExportException e = assertThrows(ExportException.class, () -> new ExportOptions(32, 32, false, 12));
        assertTrue(e.getMessage().contains("--opset 12"), e.getMessage());
    }

    private static ExportMetadata meta() {
        return new ExportMetadata(org.leanseg.data.Normalization.imagenet(), List.of("a", "b"), new int[] {0, 0xff0000}, "test");
    }
}
