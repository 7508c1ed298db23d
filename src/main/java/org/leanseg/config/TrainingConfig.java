package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A resolved training configuration: defaults, then an optional YAML file, then
 * {@code --set key=value} overrides (dotted keys, values read as YAML: {@code 8}, {@code auto},
 * {@code [512, 512]}, {@code 1e-4}). Unknown keys and bad values are {@link ConfigException}s
 * naming the key, the value, what is allowed and where it came from. {@code model.num_classes}
 * follows {@code data.num_classes} (and the other way round) unless both are set.
 *
 * <pre>{@code
 * TrainingConfig c = TrainingConfig.load(Path.of("my.yaml"), List.of("train.lr=0.05", "data.crop_size=[96, 128]"));
 * System.out.print(c.toYaml());            // leanseg train --print-config; saved as work dir config.yaml
 * Path runDir = c.runDir();                // work_dirs/<name>
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=TrainingConfigTest}.
 *
 * @param name run name: the work dir is {@code workDir/name}
 * @param workDir parent directory of run directories (mmsegmentation's work_dirs)
 * @param device {@code auto} (a GPU when one works, else the oneDNN cpu backend, else the reference), {@code cpu}, {@code cuda} or {@code reference}
 */
public record TrainingConfig(String name, String workDir, Device device, ModelConfig model, DataConfig data,
        TrainConfig train, EvalConfig eval) {

    /** Where to run, spelled in YAML as lower-case names. */
    public enum Device {
        AUTO, CPU, CUDA, REFERENCE;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final YAMLMapper YAML = YAMLMapper.builder(YAMLFactory.builder()
                    .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                    .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                    .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
                    .build())
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** The built-in defaults (the synthetic-shapes CPU run). */
    public static TrainingConfig defaults() {
        return new TrainingConfig("deeplabv3plus_mobilenetv2_synthetic", "work_dirs", Device.AUTO,
                ModelConfig.defaults(), DataConfig.defaults(), TrainConfig.defaults(), EvalConfig.defaults());
    }

    /**
     * Defaults ← {@code yamlFile} (may be null) ← {@code overrides} ("dotted.key=value").
     *
     * @throws ConfigException for an unreadable file, unknown key or bad value
     */
    public static TrainingConfig load(Path yamlFile, List<String> overrides) {
        if (yamlFile == null) {
            return resolve(null, null, overrides);
        }
        try {
            return resolve(Files.readString(yamlFile), yamlFile.toString(), overrides);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file " + yamlFile + " does not exist", e);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + yamlFile + ": " + e.getMessage(), e);
        }
    }

    /** Like {@link #load}, from YAML text; {@code sourceName} is used in messages (e.g. the file name). */
    public static TrainingConfig parse(String yamlText, String sourceName, List<String> overrides) {
        return resolve(yamlText, sourceName, overrides);
    }

    private static TrainingConfig resolve(String yamlText, String sourceName, List<String> overrides) {
        ConfigTree tree = new ConfigTree(YAML.valueToTree(defaults()));
        if (yamlText != null) {
            JsonNode doc;
            try {
                doc = YAML.readTree(yamlText);
            } catch (JsonProcessingException e) {
                throw new ConfigException(sourceName + ": not valid YAML: " + e.getOriginalMessage()
                        + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() : ""), e);
            }
            if (doc != null && !doc.isMissingNode() && !doc.isNull()) {
                tree.merge("", doc, "in " + sourceName);
            }
        }
        for (String override : overrides) {
            int eq = override.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set " + override + ": expected key=value, e.g. train.lr=0.01");
            }
            String key = override.substring(0, eq).trim();
            String text = override.substring(eq + 1);
            JsonNode value;
            try {
                value = YAML.readTree(text);
            } catch (JsonProcessingException e) {
                throw new ConfigException(key + ": '" + text + "' is not a YAML value (from --set " + override + "): "
                        + e.getOriginalMessage(), e);
            }
            if (value == null || value.isMissingNode()) {
                value = YAML.nullNode();
            }
            tree.merge(key, value, "from --set " + override);
        }
        linkNumClasses(tree);
        ModelConfig model = ModelConfig.read(tree);
        TrainConfig train = TrainConfig.read(tree);
        if (train.classWeights() != null && train.classWeights().size() != model.numClasses()) {
            throw new ConfigException("train.class_weights: " + train.classWeights().size() + " weights ("
                    + tree.source("train.class_weights") + ") but model.num_classes is " + model.numClasses()
                    + "; give one weight per class");
        }
        return new TrainingConfig(
                tree.string("name", false),
                tree.string("work_dir", false),
                tree.choice("device", Device.class),
                model, DataConfig.read(tree), train, EvalConfig.read(tree));
    }

    /** One class count set by the user is the other's too; two must agree. */
    private static void linkNumClasses(ConfigTree tree) {
        String m = "model.num_classes";
        String d = "data.num_classes";
        if (tree.isExplicit(m) && tree.isExplicit(d)) {
            if (!tree.node(m).equals(tree.node(d))) {
                throw new ConfigException(m + " (" + ConfigTree.show(tree.node(m)) + ", " + tree.source(m) + ") and " + d
                        + " (" + ConfigTree.show(tree.node(d)) + ", " + tree.source(d)
                        + ") differ; set one of them (the other follows) or make them equal");
            }
        } else if (tree.isExplicit(d) || tree.isExplicit(m)) {
            boolean fromData = tree.isExplicit(d);
            String from = fromData ? d : m;
            ObjectNode section = (ObjectNode) tree.root().get(fromData ? "model" : "data");
            section.set("num_classes", tree.node(from));
            tree.merge(fromData ? m : d, tree.node(from), tree.source(from) + ", via " + from);
        }
    }

    /** The run directory {@code workDir/name}. */
    public Path runDir() {
        return Path.of(workDir, name);
    }

    /** The resolved configuration as YAML; {@link #parse} of it gives back an equal config. */
    public String toYaml() {
        try {
            return YAML.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot print config", e);
        }
    }
}
