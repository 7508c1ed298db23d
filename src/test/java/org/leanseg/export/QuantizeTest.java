package org.leanseg.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.export.onnx.OnnxProto.ModelProto;
import org.leanseg.export.onnx.OnnxProto.NodeProto;
import org.leanseg.export.onnx.OnnxProto.TensorProto;
import org.leanseg.models.ModelConfig;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.Datasets;

/**
 * Static int8 QDQ: every Conv reads int8 per-channel weights and an int32 bias, activations are
 * uint8 QuantizeLinear/DequantizeLinear pairs, ONNX Runtime fuses them into QLinearConv, the file is
 * under 30% of fp32, and the int8 logits track the fp32 ones on synthetic images (min-max and
 * percentile calibration). Check: {@code mvn -B -q test -Dtest=QuantizeTest}.
 */
class QuantizeTest {
    @TempDir
    Path dir;

    @Test
    void qdqStructureRunsInOrtWithInt8Kernels() throws Exception {
        ExportFixtures.Model m = ExportFixtures.random(ModelConfig.of("deeplabv3plus_mobilenetv2").withClasses(6), 5);
        Dataset train = Datasets.train(TrainingConfig.defaults());
        int size = TrainingConfig.defaults().data().cropSize().height();   // the default synthetic images are square
        List<Tensor> images = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            images.add(Tensor.of(Shape.of(1, 3, size, size), train.get(i, null).image().data()));
        }
        OnnxExporter.Exported e = OnnxExporter.export(m.model(), m.store(), new ExportOptions(size, size, false, 17), ExportFixtures.metadata(m.model()));
        for (Calibration.Method method : Calibration.Method.values()) {
            Map<String, Calibration.Range> ranges;
            try (ReferenceBackend backend = new ReferenceBackend()) {
                ranges = Calibration.ranges(m.model(), m.store(), e, images, backend, method, 99.9);
            }
            // what `quantize` writes by default on this machine: 7-bit weights where the CPU lacks VNNI
            ModelProto q = QdqQuantizer.quantize(e.model(), ranges, method.name(), QdqQuantizer.cpuNeedsReducedRange());
            checkStructure(e.model(), q);
            assertTrue(q.getSerializedSize() <= 0.30 * e.model().getSerializedSize(),
                    "int8 file " + q.getSerializedSize() + " bytes vs fp32 " + e.model().getSerializedSize());
            assertEquals(List.of("QLinearConv"), ortFusedConvs(q), method + ": ORT did not fuse the QDQ convs into QLinearConv");
            try (OrtModel fp32 = OrtModel.of(e.model().toByteArray()); OrtModel int8 = OrtModel.of(q.toByteArray())) {
                for (Tensor im : images) {
                    Tensor ref = fp32.run(im);
                    Tensor got = int8.run(im);
                    double d = relRms(got, ref);
                    // random weights through ~50 int8 layers: a loose bound that a wrong scale or zero point (RMS ~1) fails.
                    // With full-range weights on a CPU without VNNI (AMD EPYC Zen 3, 2026-12-07) PERCENTILE gave 0.309:
                    // ONNX Runtime's 16-bit pair sums saturate (Note [Reduced weight range]), hence the default above
                    assertTrue(d < 0.3, method + ": int8 logits differ from fp32 by " + d + " (relative RMS)");
                    long agree = ExportFixtures.argmaxAgree(got, ref);
                    assertTrue(agree >= 0.9 * size * size, method + ": int8 argmax agrees with fp32 on " + agree + " of " + size * size + " pixels");
                }
            }
        }
    }

    /** A dynamic export quantises too: its Shape ops read the float tensors, and it runs at a size it was not calibrated at. */
    @Test
    void dynamicModelQuantisesAndRunsAtOtherSizes() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(ExportFixtures.present(ExportFixtures.TINY), "no tiny oracle");
        ExportFixtures.Model m = ExportFixtures.oracle(ExportFixtures.TINY);
        OnnxExporter.Exported e = OnnxExporter.export(m.model(), m.store(), new ExportOptions(32, 32, true, 17), ExportFixtures.metadata(m.model()));
        List<Tensor> images = List.of(Tensor.gaussian(Shape.of(1, 3, 32, 32), 1, new java.util.Random(1)),
                Tensor.gaussian(Shape.of(1, 3, 32, 32), 1, new java.util.Random(2)));
        Map<String, Calibration.Range> ranges;
        try (ReferenceBackend backend = new ReferenceBackend()) {
            ranges = Calibration.ranges(m.model(), m.store(), e, images, backend, Calibration.Method.MINMAX, 99.99);
        }
        ModelProto q = QdqQuantizer.quantize(e.model(), ranges, "minmax");
        checkStructure(e.model(), q);
        Tensor other = Tensor.gaussian(Shape.of(1, 3, 40, 56), 1, new java.util.Random(3));
        try (OrtModel int8 = OrtModel.of(q.toByteArray()); OrtModel fp32 = OrtModel.of(e.model().toByteArray())) {
            Tensor got = int8.run(other);
            assertEquals(Shape.of(1, m.model().config().numClasses(), 40, 56), got.shape());
            assertTrue(relRms(got, fp32.run(other)) < 0.3, "int8 vs fp32 at 40x56");
        }
    }

    private static void checkStructure(ModelProto fp32, ModelProto q) {
        Map<String, TensorProto> inits = q.getGraph().getInitializerList().stream().collect(Collectors.toMap(TensorProto::getName, t -> t));
        Map<String, NodeProto> producers = q.getGraph().getNodeList().stream().collect(Collectors.toMap(n -> n.getOutput(0), n -> n));
        long convs = 0;
        for (NodeProto n : q.getGraph().getNodeList()) {
            if (!n.getOpType().equals("Conv")) {
                continue;
            }
            convs++;
            NodeProto wdq = producers.get(n.getInput(1));
            assertEquals("DequantizeLinear", wdq.getOpType(), n.getName());
            TensorProto w = inits.get(wdq.getInput(0));
            assertEquals(TensorProto.DataType.INT8.getNumber(), w.getDataType(), n.getName() + " weight");
            assertEquals(w.getDims(0), inits.get(wdq.getInput(1)).getDims(0), n.getName() + ": one weight scale per output channel");
            assertEquals(2, wdq.getInputCount(), "symmetric weights leave the zero point out (0)");
            NodeProto bdq = producers.get(n.getInput(2));
            assertEquals(TensorProto.DataType.INT32.getNumber(), inits.get(bdq.getInput(0)).getDataType(), n.getName() + " bias");
            assertEquals("DequantizeLinear", producers.get(n.getInput(0)).getOpType(), n.getName() + " input is not dequantized");
            assertTrue(q.getGraph().getNodeList().stream().anyMatch(c -> c.getOpType().equals("QuantizeLinear")
                    && c.getInput(0).equals(n.getOutput(0))), n.getName() + " output is not quantized");
        }
        assertEquals(fp32.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")).count(), convs);
        assertTrue(q.getGraph().getInitializerList().stream().noneMatch(t -> t.getDataType() == TensorProto.DataType.FLOAT.getNumber()
                && t.getDimsCount() == 4), "a float conv weight is left");
    }

    /** ||a − ref||₂ / ||ref||₂. */
    private static double relRms(Tensor a, Tensor ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.data().length; i++) {
            double d = a.data()[i] - ref.data()[i];
            num += d * d;
            den += (double) ref.data()[i] * ref.data()[i];
        }
        return Math.sqrt(num / den);
    }

    /** The op types ORT's optimised graph runs the convolutions with. */
    private List<String> ortFusedConvs(ModelProto q) throws Exception {
        Path opt = dir.resolve("optimized.onnx");
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
            o.setOptimizedModelFilePath(opt.toString());
            OrtEnvironment.getEnvironment().createSession(q.toByteArray(), o).close();
        }
        ModelProto optimized = ModelProto.parseFrom(Files.readAllBytes(opt));
        return optimized.getGraph().getNodeList().stream().map(NodeProto::getOpType).filter(t -> t.contains("Conv"))
                .distinct().sorted().toList();
    }
}
