package org.leanseg.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;

class TrainingConfigTest {
    @TempDir
    Path dir;

    private static TrainingConfig parse(String yaml, String... overrides) {
        return TrainingConfig.parse(yaml, "my.yaml", List.of(overrides));
    }

    private static String error(String yaml, String... overrides) {
        return assertThrows(ConfigException.class, () -> parse(yaml, overrides)).getMessage();
    }

    private static void assertMessage(String expectedPart, String message) {
        assertTrue(message.contains(expectedPart), "expected '" + expectedPart + "' in: " + message);
    }

    @Test
    void defaultsAreConsistentAndRoundTripThroughYaml() {
        TrainingConfig d = TrainingConfig.defaults();
        assertEquals(d, TrainingConfig.load(null, List.of()));
        assertEquals(d, parse(""));
        assertEquals(d, parse("# only a comment\n"));
        assertEquals(d.data().numClasses(), d.model().numClasses());
        assertEquals(d, parse(d.toYaml()));
        assertEquals(Path.of("work_dirs", d.name()), d.runDir());
    }

    @Test
    void yamlFileThenOverrides() throws IOException {
        Path file = dir.resolve("run.yaml");
        Files.writeString(file, """
                name: voc_run
                device: cpu
                model:
                  name: deeplabv3plus_xception65
                  output_stride: 8
                  atrous_rates: [12, 24, 36]
                data:
                  type: voc
                  root: /data/VOCdevkit/VOC2012
                  num_classes: 21
                  crop_size: 512
                train:
                  batch: auto
                  lr: 1e-2
                  schedule: cosine
                eval:
                  mode: slide
                """);
        TrainingConfig c = TrainingConfig.load(file, List.of("train.lr=0.05", "data.crop_size=[480, 640]",
                "train.nesterov=true", "eval.stride=300"));
        assertEquals("voc_run", c.name());
        assertEquals(TrainingConfig.Device.CPU, c.device());
        assertEquals(ModelConfig.Architecture.DEEPLABV3PLUS_XCEPTION65, c.model().name());
        assertEquals(8, c.model().outputStride());
        assertEquals(List.of(12, 24, 36), c.model().atrousRates());
        assertEquals(21, c.model().numClasses(), "model.num_classes follows data.num_classes");
        assertEquals(DataConfig.Type.VOC, c.data().type());
        assertEquals(new Size2(480, 640), c.data().cropSize());
        assertTrue(c.train().batch().isAuto());
        assertEquals(0.05, c.train().lr());
        assertTrue(c.train().nesterov());
        assertEquals(TrainConfig.Schedule.COSINE, c.train().schedule());
        assertEquals(EvalConfig.Mode.SLIDE, c.eval().mode());
        assertEquals(Size2.square(300), c.eval().stride());
        assertEquals(0.9, c.train().momentum(), "untouched keys keep their defaults");
        assertEquals(c, parse(c.toYaml()), "printed config reads back equal");
        assertMessage("batch: auto", c.toYaml());
    }

    @Test
    void overridesParseYamlScalarsAndLists() {
        TrainingConfig c = parse("", "train.batch=16", "model.width=1", "train.weight_decay=4e-5",
                "data.synthetic.seed=-3", "model.aux_head=true", "model.num_classes=3", "data.root=/tmp/x");
        assertEquals(16, c.train().batch().value());
        assertEquals(1.0, c.model().width());
        assertEquals(4e-5, c.train().weightDecay());
        assertEquals(-3, c.data().synthetic().seed());
        assertTrue(c.model().auxHead());
        assertEquals(3, c.data().numClasses(), "data.num_classes follows model.num_classes");
        assertEquals("/tmp/x", c.data().root());
        assertNull(parse("", "data.root=/tmp/x", "data.root=").data().root(), "an empty value is null");
        // A whole section can be overridden as a YAML mapping.
        assertEquals(3, parse("", "train={iters: 100, warmup_iters: 3}").train().warmupIters());
        // the default warmup (30) shortens to a shorter run; a set one must fit
        assertEquals(2, parse("", "train.iters=2").train().warmupIters());
    }

    @Test
    void emptySectionKeepsDefaults() {
        assertEquals(TrainingConfig.defaults(), parse("eval:\nmodel:\n"));
    }

    @Test
    void unknownKeysNameThePathAndSuggest() {
        assertMessage("train.lerning_rate: unknown key (in my.yaml)", error("train:\n  lerning_rate: 0.1\n"));
        assertMessage("did you mean train.schedule?", error("train:\n  schedul: poly\n"));
        assertMessage("did you mean train.lr?", error("train:\n  lerning_rate: 0.1\n"));
        assertMessage("did you mean train.batch?", error("", "train.batch_size=4"));
        assertMessage("did you mean train.iters?", error("model:\n  iters: 5\n"));
        assertMessage("Keys of train: batch, iters, lr", error("train:\n  xyzzy_foo: 1\n"));
        String set = error("", "train.momentun=0.5");
        assertMessage("train.momentun: unknown key (from --set train.momentun=0.5); did you mean train.momentum?", set);
        assertMessage("trian.lr: unknown key", error("", "trian.lr=0.1"));
        assertMessage("did you mean train.lr?", error("", "trian.lr=0.1"));
        assertMessage("model.width.x: unknown key", error("", "model.width.x=1"));
        assertMessage("--set lr: expected key=value", error("", "lr"));
    }

    @Test
    void badValuesNameKeyValueAllowedAndSource() {
        assertEquals("train.schedule: 'linear' is not one of poly, cosine (in my.yaml)",
                error("train:\n  schedule: linear\n"));
        assertEquals("model.output_stride: 32 is not one of 8, 16 (from --set model.output_stride=32)",
                error("", "model.output_stride=32"));
        assertMessage("train.iters: 'many' is not an integer (expected an integer >= 1) (in my.yaml)",
                error("train:\n  iters: many\n"));
        assertMessage("train.iters: 0 is out of range", error("", "train.iters=0"));
        assertMessage("train.lr: -0.1 is out of range (expected a number > 0.0)", error("", "train.lr=-0.1"));
        assertMessage("train.batch: 'big' is not a batch size (expected a positive integer or auto)",
                error("", "train.batch=big"));
        assertMessage("data.crop_size: [1, 2, 3] is not a size", error("", "data.crop_size=[1,2,3]"));
        assertMessage("model.atrous_rates: [6, -1] is not a list of positive integers", error("", "model.atrous_rates=[6,-1]"));
        assertMessage("model.aux_head: 'yes please' is not a boolean", error("", "model.aux_head=yes please"));
        assertMessage("device: 'tpu' is not one of auto, cpu, cuda", error("device: tpu\n"));
        assertMessage("data.root: the dataset directory is required when data.type is voc (data.type in my.yaml)", error("data:\n  type: voc\n"));
        assertMessage("eval.stride: [600, 600] is larger than eval.crop_size [512, 512]", error("", "eval.stride=600"));
        assertMessage("train.nesterov: true needs train.momentum > 0", error("", "train.nesterov=true", "train.momentum=0"));
        assertMessage("model: expected a mapping of name, width", error("model: 3\n"));
        assertMessage("model.num_classes (21, from --set model.num_classes=21) and data.num_classes (6, in my.yaml) differ",
                error("data:\n  num_classes: 6\n", "model.num_classes=21"));
        assertMessage("train.warmup_iters: 8200 is out of range (expected an integer in [0, 8000])",
                error("", "train.warmup_iters=8200"));
    }

    @Test
    void invalidYamlAndMissingFile() {
        assertMessage("my.yaml: not valid YAML", error("train: [1, 2\n"));
        assertMessage("Duplicate field 'lr'", error("train:\n  lr: 1\n  lr: 2\n"));
        ConfigException missing = assertThrows(ConfigException.class,
                () -> TrainingConfig.load(dir.resolve("nope.yaml"), List.of()));
        assertMessage("nope.yaml does not exist", missing.getMessage());
    }

    @Test
    void printedYamlHasEverySection() {
        String yaml = TrainingConfig.defaults().toYaml();
        for (String key : List.of("name:", "work_dir:", "device:", "model:", "output_stride:", "data:", "synthetic:",
                "train:", "backbone_lr_mult:", "eval:", "stride:")) {
            assertMessage(key, yaml);
        }
        assertFalse(yaml.startsWith("---"));
    }

    @Test
    void recomputePolicyAndMemoryBudgetReadAndRoundTrip() {
        TrainingConfig d = TrainingConfig.defaults();
        assertEquals(RecomputePolicy.none(), d.train().recompute());
        assertNull(d.train().memoryBudget());
        assertMessage("recompute: none", d.toYaml());
        assertMessage("memory_budget: null", d.toYaml());
        TrainingConfig c = parse("train:\n  batch: auto\n  memory_budget: 6GiB\n  recompute: auto:5GiB\n");
        assertEquals(6L << 30, c.train().memoryBudget().bytes());
        assertEquals(RecomputePolicy.auto(new ByteSize(5L << 30)), c.train().recompute());
        assertEquals(c, parse(c.toYaml()), "printed config reads back equal");
        assertMessage("recompute: auto:5GiB", c.toYaml());
        assertEquals(1000, parse("", "train.memory_budget=1000").train().memoryBudget().bytes());
        assertEquals(RecomputePolicy.sqrt(), parse("", "train.recompute=sqrt").train().recompute());
        assertMessage("train.recompute: 'everything' is not a recompute policy (expected none, stages, sqrt, auto:<bytes>",
                error("", "train.recompute=everything"));
        assertMessage("auto needs a budget, e.g. auto:6GiB (from --set train.recompute=auto)", error("", "train.recompute=auto"));
        assertMessage("train.memory_budget: '6 gigs' is not a byte size (write e.g. 6GiB", error("", "train.memory_budget=6 gigs"));
        assertMessage("train.memory_budget: [6] is not a byte size", error("", "train.memory_budget=[6]"));
    }

    @Test
    void distillIsOffByDefaultReadsItsKeysAndNamesEachBadOne() {
        DistillConfig d = TrainingConfig.defaults().train().distill();
        assertFalse(d.enabled());
        assertMessage("distill:\n    teacher: null", TrainingConfig.defaults().toYaml());
        TrainingConfig c = parse("train:\n  distill:\n    teacher: runs/big/best.safetensors\n    temperature: 4\n    weight: 0.5\n"
                + "    kind: channel\n");
        assertEquals(new DistillConfig("runs/big/best.safetensors", 4, 0.5, DistillConfig.Kind.CHANNEL), c.train().distill());
        assertEquals(c, parse(c.toYaml()), "printed config reads back equal");
        assertEquals(DistillConfig.Kind.PIXEL, parse("", "train.distill.teacher=t.safetensors").train().distill().kind());
        assertMessage("train.distill.kind: 'feature' is not one of pixel, channel (from --set train.distill.kind=feature)",
                error("", "train.distill.teacher=t.safetensors", "train.distill.kind=feature"));
        assertMessage("train.distill.temperature: 0 is out of range (expected a number > 0.0",
                error("", "train.distill.teacher=t.safetensors", "train.distill.temperature=0"));
        assertMessage("train.distill.weight: 'heavy' is not a number",
                error("", "train.distill.teacher=t.safetensors", "train.distill.weight=heavy"));
        assertMessage("train.distill.teacher: 3 is not a non-empty string", error("", "train.distill.teacher=3"));
        assertMessage("train.distill.tempature: unknown key (from --set train.distill.tempature=2); did you mean train.distill.temperature?",
                error("", "train.distill.tempature=2"));
        assertMessage("train.distill.kind: is set but train.distill.teacher is null",
                error("", "train.distill.kind=channel"));
        assertMessage("train.distill: expected a mapping of teacher, temperature, weight, kind", error("train:\n  distill: big.safetensors\n"));
    }

    @Test
    void skipBadDefaultsOffAndCanBeSet() {
        org.junit.jupiter.api.Assertions.assertFalse(TrainingConfig.load(null, java.util.List.of()).data().skipBad());
        org.junit.jupiter.api.Assertions.assertTrue(TrainingConfig.load(null, java.util.List.of("data.skip_bad=true")).data().skipBad());
    }

    @Test
    void evalScalesAndMemoryBudget() {
        EvalConfig d = TrainingConfig.defaults().eval();
        assertEquals(List.of(1.0), d.scales());
        assertNull(d.memoryBudget());
        EvalConfig e = parse("eval:\n  scales: [0.75, 1, 1.25]\n  memory_budget: 512MiB\n").eval();
        assertEquals(List.of(0.75, 1.0, 1.25), e.scales());
        assertEquals(512L << 20, e.memoryBudget());
        assertEquals(2_000_000_000L, parse("", "eval.memory_budget=2GB").eval().memoryBudget());
        assertEquals(1536L << 20, parse("", "eval.memory_budget=1.5GiB").eval().memoryBudget());
        assertEquals(4096L, parse("", "eval.memory_budget=4096").eval().memoryBudget());
        TrainingConfig c = parse("", "eval.scales=[0.5, 2.0]", "eval.memory_budget=1GiB");
        assertEquals(c, parse(c.toYaml()));
        assertMessage("eval.scales: [0.5, -1] is not a list of numbers in (0, 8.0]", error("", "eval.scales=[0.5, -1]"));
        assertMessage("eval.scales: [] is not a list", error("", "eval.scales=[]"));
        assertMessage("eval.memory_budget: 'lots' is not a byte count", error("", "eval.memory_budget=lots"));
    }

    @Test
    void labelMapIsAMappingOrAPreset() {
        assertNull(TrainingConfig.defaults().data().labelMap());
        DataConfig c = parse("data:\n  num_classes: 19\n  label_map: cityscapes\n").data();
        assertEquals(0, c.labelMap().get(7));
        assertEquals(18, c.labelMap().get(33));
        assertEquals(19, c.labelMap().size());
        TrainingConfig m = parse("data:\n  num_classes: 3\n  label_map: {10: 0, 20: 1, 30: 255}\n");
        assertEquals(java.util.Map.of(10, 0, 20, 1, 30, 255), m.data().labelMap());
        assertEquals(m, parse(m.toYaml()));
        assertMessage("data.label_map: maps 20 to 5, but class indices are 0..2", error("", "data.num_classes=3",
                "data.label_map={10: 0, 20: 5}"));
        assertMessage("'citiscapes' is not a mapping of raw mask values to class indices (e.g. {7: 0, 8: 1}) or a preset "
                + "(cityscapes)", error("", "data.label_map=citiscapes"));
        assertMessage("entry x: 1 is not 'raw value: class index'", error("", "data.label_map={x: 1}"));
        assertMessage("data.label_map: the cityscapes preset maps to 19 classes (0..18) but data.num_classes is 6; set "
                + "data.num_classes=19", error("", "data.label_map=cityscapes"));
    }

    /** Every shipped config in configs/ parses and names a model with the spec's parameter count (VOC: 21 classes). */
    @Test
    void shippedConfigsParseAndBuildTheirModels() throws IOException {
        Path dir = Path.of("configs");
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(files.size() >= 2, "configs/ holds the VOC presets");
        for (Path f : files) {
            TrainingConfig c = TrainingConfig.load(f, List.of());
            assertEquals(21, c.model().numClasses(), f.toString());
            var model = new org.leanseg.models.DeepLabV3Plus(org.leanseg.train.Datasets.modelConfig(c));
            long params = model.params().parameterCount();
            long expected = c.model().name().yamlName().contains("xception") ? 54_711_461 : 5_816_053;
            assertEquals(expected, params, f + ": the spec's full model");
        }
    }

    /** Note [Whole-step graphs]: train.cuda_graphs is on by default and can be turned off; a bad value names the key. */
    @Test
    void cudaGraphsSwitch() {
        org.junit.jupiter.api.Assertions.assertTrue(TrainingConfig.load(null, java.util.List.of()).train().cudaGraphs());
        org.junit.jupiter.api.Assertions.assertFalse(TrainingConfig.load(null, java.util.List.of("train.cuda_graphs=false")).train().cudaGraphs());
        ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> TrainingConfig.load(null, java.util.List.of("train.cuda_graphs=maybe")));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("train.cuda_graphs"), e.getMessage());
    }
}
