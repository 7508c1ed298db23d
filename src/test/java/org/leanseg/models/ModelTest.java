package org.leanseg.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.io.Safetensors;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;
import org.leanseg.train.WeightLoader;

public class ModelTest {
    public static ModelConfig tiny() {
        return ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(5);
    }

    @Test
    void parameterCountsMatchTheSpec() {
        assertEquals(5_816_053, new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_mobilenetv2")).params().parameterCount());
        assertEquals(235_725, new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
                .withHead(new int[] {2, 3, 6}, 32, 12, 32)).params().parameterCount());
        assertEquals(54_711_461, new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_xception65")).params().parameterCount());
    }

    /** Note [ASPP pooling at batch 1]: training at batch 1 works, gives a finite loss and gradients through the pooling branch. */
    @Test
    void trainsAtBatchOne() {
        DeepLabV3Plus m = new DeepLabV3Plus(tiny());
        TrainGraph tg = new TrainGraph(m, 1, 32, 32, OptimizerSettings.pytorchDefault(), 1);
        VariableStore store = new VariableStore();
        m.params().initialize(store, 1);
        Tensor before = store.get(m.params().get("aspp.convs.4.1.weight")).copy();
        Random rnd = new Random(2);
        int[] labels = new int[32 * 32];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(5);
        }
        try (Executor ex = new Executor(tg.stepGraph(), new ReferenceBackend(), store)) {
            ex.run(Map.of(tg.image(), Tensor.gaussian(Shape.of(1, 3, 32, 32), 1, rnd), tg.label(), Tensor.labels(Shape.of(1, 32, 32), labels),
                    tg.lr(), Tensor.of(Shape.of(1), 0.1f)));
            float loss = ex.read(tg.loss()).data()[0];
            assertTrue(Float.isFinite(loss) && loss > 0, "loss " + loss);
        }
        Tensor after = store.get(m.params().get("aspp.convs.4.1.weight"));
        double change = 0;
        for (int i = 0; i < after.data().length; i++) {
            change += Math.abs(after.data()[i] - before.data()[i]);
            assertTrue(Float.isFinite(after.data()[i]));
        }
        assertTrue(change > 0, "the pooling branch received no gradient at batch 1");
    }

    @Test
    void auxHeadOnlyInTraining() {
        DeepLabV3Plus m = new DeepLabV3Plus(tiny().withAuxHead(true));
        assertTrue(m.params().byName().containsKey("aux.classifier.weight"));
        Graph train = new Graph();
        Value x = train.input("x", TensorSpec.f32(2, 3, 32, 32));
        assertNotNull(m.forward(new Trace(train, true), x).auxLogits());
        Graph eval = new Graph();
        Value y = eval.input("x", TensorSpec.f32(2, 3, 32, 32));
        DeepLabV3Plus.Output out = m.forward(new Trace(eval, false), y);
        assertNull(out.auxLogits());
        assertEquals(Shape.of(2, 5, 32, 32), out.logits().spec().shape());
    }

    @Test
    void weightLoaderReportsAndStrictRefuses(@TempDir Path dir) throws IOException {
        DeepLabV3Plus m = new DeepLabV3Plus(tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 3);
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (ParamSet.Entry e : m.params().entries()) {
            state.put(e.variable().name(), store.get(e.variable()));
        }
        Path full = dir.resolve("full.safetensors");
        Safetensors.write(full, state, Map.of());
        // same model: clean
        DeepLabV3Plus same = new DeepLabV3Plus(tiny());
        WeightLoader.Report r = WeightLoader.load(full, same.params(), new VariableStore(), true, null);
        assertTrue(r.clean(), r.toString());
        // other class count: classifier mismatched; strict refuses
        DeepLabV3Plus other = new DeepLabV3Plus(tiny().withClasses(7));
        WeightLoader.Report r2 = WeightLoader.load(full, other.params(), new VariableStore(), false, null);
        assertEquals(2, r2.mismatched().size(), r2.toString());
        IOException e = assertThrows(IOException.class, () -> WeightLoader.load(full, other.params(), new VariableStore(), true, null));
        assertTrue(e.getMessage().contains("decoder.classifier"), e.getMessage());
        // backbone-only file with torchvision names loads through a prefix map
        Map<String, Tensor> backbone = new LinkedHashMap<>();
        state.forEach((k, v) -> {
            if (k.startsWith("backbone.")) {
                backbone.put(k.substring("backbone.".length()), v);
            }
        });
        Path bb = dir.resolve("mobilenet_v2.safetensors");
        Safetensors.write(bb, backbone, Map.of());
        VariableStore target = new VariableStore();
        WeightLoader.Report r3 = WeightLoader.load(bb, same.params(), target, false, "=backbone.");
        assertEquals(backbone.size(), r3.loaded().size());
        assertTrue(r3.unexpected().isEmpty() && !r3.missing().isEmpty(), r3.toString());
        assertEquals(state.get("backbone.features.0.0.weight").data()[5],
                target.get(same.params().get("backbone.features.0.0.weight")).data()[5]);
    }
}
