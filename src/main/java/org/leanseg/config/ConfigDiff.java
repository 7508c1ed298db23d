package org.leanseg.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The keys two resolved configs differ in, as {@code "train.iters 600 -> 8000"}: what a resumed
 * run, eval or predict changes of the config a checkpoint was trained with.
 *
 * <pre>{@code
 * List<String> changed = ConfigDiff.between(saved, resolved);   // ["train.iters 600 -> 8000"]
 * }</pre>
 */
public final class ConfigDiff {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private ConfigDiff() {
    }

    public static List<String> between(TrainingConfig from, TrainingConfig to) {
        Map<String, String> a = flatten(from);
        Map<String, String> b = flatten(to);
        List<String> out = new ArrayList<>();
        b.forEach((key, value) -> {
            String old = a.get(key);
            if (!value.equals(old)) {
                out.add(key + " " + (old == null ? "(unset)" : old) + " -> " + value);
            }
        });
        return out;
    }

    private static Map<String, String> flatten(TrainingConfig cfg) {
        try {
            Map<String, String> out = new LinkedHashMap<>();
            flatten("", YAML.readTree(cfg.toYaml()), out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                flatten(prefix.isEmpty() ? f.getKey() : prefix + "." + f.getKey(), f.getValue(), out);
            }
        } else {
            out.put(prefix, node.isTextual() ? node.textValue() : node.toString());
        }
    }
}
