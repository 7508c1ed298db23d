package org.leanseg.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.cli.Main;
import org.leanseg.exec.VariableStore;
import org.leanseg.io.Safetensors;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;

/**
 * Issue 12 item 9: a state_dict with LeanSeg's (torchvision's) names but no LeanSeg metadata is
 * read as the model its shapes describe, not as the default width-0.5 config; summary, plan and
 * profile accept --config and --checkpoint.
 */
class ModelInferenceTest {
    /** A plain safetensors state_dict of {@code cfg} (no metadata), as PyTorch's save_file writes it. */
    static Path stateDict(Path dir, String name, ModelConfig cfg) throws IOException {
        DeepLabV3Plus m = new DeepLabV3Plus(cfg);
        VariableStore store = new VariableStore();
        m.params().initialize(store, 3);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> stored = new LinkedHashMap<>();
        for (ParamSet.Entry e : m.params().entries()) {
            tensors.put(e.variable().name(), store.get(e.variable()));
            if (e.variable().spec().dtype() == DType.I64) {
                stored.put(e.variable().name(), DType.I64);
            }
        }
        Path file = dir.resolve(name + ".safetensors");
        Safetensors.write(file, tensors, Map.of(), stored);
        return file;
    }

    @Test
    void fullWidthMobileNetV2StateDictIsReadAsWhatItIs(@TempDir Path dir) throws IOException {
        ModelConfig full = ModelConfig.of("deeplabv3plus_mobilenetv2");
        Path file = stateDict(dir, "torchvision", full);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            ModelInference.Inferred inferred = ModelInference.of(f);
            assertEquals(full, inferred.config());
            assertTrue(inferred.line().contains("width 1.0") && inferred.line().contains("21 classes")
                    && inferred.line().contains("256/48/256") && inferred.line().contains("assumed"), inferred.line());
        }
        // predict/eval/benchmark load it strictly although the configured model is the width-0.5 default
        ModelConfig configured = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.5).withClasses(6);
        CheckpointModel m = CheckpointModel.load(file, configured);
        assertEquals(full, m.model().config());
        assertNotNull(m.note());
        // and summary describes it
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out));
        try {
            assertEquals(0, Main.run("summary", "--checkpoint", file.toString(), "--size", "64x64"));
        } finally {
            System.setOut(old);
        }
        assertTrue(out.toString().contains("5,816,053") && out.toString().contains("inferred from its tensor shapes"), out.toString());
    }

    @Test
    void narrowXceptionWithFewMiddleBlocks(@TempDir Path dir) throws IOException {
        ModelConfig x = ModelConfig.of("deeplabv3plus_xception65").withWidth(0.25).withMiddleRepeats(2).withClasses(5);
        x = x.withHead(x.atrousRates(), 32, 16, 24);
        try (SafetensorsFile f = SafetensorsFile.open(stateDict(dir, "x", x))) {
            assertEquals(x, ModelInference.of(f).config());
        }
    }

    @Test
    void summaryDescribesTheModelOfATrainingConfig(@TempDir Path dir) throws IOException {
        Path yaml = Files.writeString(dir.resolve("run.yaml"), "model:\n  width: 0.25\n  aspp_channels: 16\n  low_level_channels: 8\n"
                + "  decoder_channels: 16\n");
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out));
        try {
            assertEquals(0, Main.run("summary", "--config", yaml.toString()));
            assertEquals(0, Main.run("summary", "--aspp-channels", "16", "--low-level-channels", "8", "--decoder-channels", "16",
                    "--width", "0.25", "--classes", "6", "--atrous-rates", "2,4,6", "--size", "48x48"));
        } finally {
            System.setOut(old);
        }
        String[] runs = out.toString().split("(?=deeplabv3plus_mobilenetv2\\(width)");
        assertTrue(runs[0].contains("width=0.25") && runs[0].contains("C/L/D=16/8/16") && runs[0].contains("at 1x3x48x48"), out.toString());
        assertEquals(runs[0], runs[1], "the config's model equals the one the flags spell");
    }
}
