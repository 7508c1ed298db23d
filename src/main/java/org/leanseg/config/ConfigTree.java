package org.leanseg.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;

/**
 * The configuration as a tree while it is being resolved: defaults, then YAML files, then
 * {@code --set} overrides merged in, each leaf remembering where its value came from. Merging
 * rejects keys the defaults do not have (suggesting the nearest one); the typed getters turn a
 * leaf into a Java value or a {@link ConfigException} naming the key, value, allowed values and
 * source. Package-private: {@link TrainingConfig} is the public face.
 */
final class ConfigTree {
    /** Names other trainers use for our keys, too far from ours for edit distance to find. */
    private static final Map<String, String> ALIASES = Map.of("learning_rate", "lr", "batch_size", "batch",
            "max_iters", "iters", "lr_schedule", "schedule", "lr_policy", "schedule", "samples_per_gpu", "batch");

    private final ObjectNode root;
    /** Dotted path of each explicitly set node to a description of where it was set. */
    private final Map<String, String> sources = new HashMap<>();
    private final List<String> knownPaths = new ArrayList<>();

    ConfigTree(ObjectNode defaults) {
        this.root = defaults.deepCopy();
        collectPaths(root, "");
    }

    private void collectPaths(JsonNode node, String prefix) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String path = prefix + f.getKey();
            knownPaths.add(path);
            if (f.getValue().isObject()) {
                collectPaths(f.getValue(), path + ".");
            }
        }
    }

    /** Merges {@code node} (a mapping) into the subtree at {@code path} ("" = root). */
    void merge(String path, JsonNode given, String source) {
        // YAML "key:" with no value reaches us as an empty string; it means null.
        JsonNode node = given.isTextual() && given.textValue().isEmpty() ? NullNode.getInstance() : given;
        JsonNode target = path.isEmpty() ? root : at(path, source);
        if (target.isObject()) {
            if (node.isNull()) {
                return; // "eval:" with every child commented out: keep the defaults
            }
            if (!node.isObject()) {
                throw new ConfigException(label(path) + "expected a mapping of " + keysOf(target) + ", got "
                        + show(node) + " (" + source + ")");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String child = path.isEmpty() ? f.getKey() : path + "." + f.getKey();
                if (!target.has(f.getKey())) {
                    throw unknown(child, source);
                }
                merge(child, f.getValue(), source);
            }
        } else {
            int dot = path.lastIndexOf('.');
            ObjectNode parent = (ObjectNode) (dot < 0 ? root : at(path.substring(0, dot), source));
            parent.set(path.substring(dot + 1), node);
            sources.put(path, source);
        }
    }

    private JsonNode at(String path, String source) {
        JsonNode n = root;
        for (String part : path.split("\\.", -1)) {
            if (!n.isObject() || !n.has(part)) {
                throw unknown(path, source);
            }
            n = n.get(part);
        }
        return n;
    }

    private ConfigException unknown(String path, String source) {
        String nearest = nearestKey(path);
        String parent = path;
        JsonNode known = null;
        while (known == null) {
            int dot = parent.lastIndexOf('.');
            parent = dot < 0 ? "" : parent.substring(0, dot);
            known = parent.isEmpty() ? root : existing(parent);
        }
        return new ConfigException(path + ": unknown key (" + source + ")"
                + (nearest != null ? "; did you mean " + nearest + "?" : ".")
                + " Keys " + (parent.isEmpty() ? "at the top level" : "of " + parent) + ": " + keysOf(known));
    }

    /** The object node at {@code path}, or null if there is none. */
    private JsonNode existing(String path) {
        JsonNode n = root;
        for (String part : path.split("\\.", -1)) {
            n = n.isObject() ? n.get(part) : null;
            if (n == null) {
                return null;
            }
        }
        return n.isObject() ? n : null;
    }

    /** The known key closest to {@code path}, by edit distance on the path or the last part. */
    String nearestKey(String path) {
        String leaf = path.substring(path.lastIndexOf('.') + 1);
        String parent = path.substring(0, Math.max(0, path.lastIndexOf('.')));
        for (Map.Entry<String, String> alias : ALIASES.entrySet()) {
            String target = (parent.isEmpty() ? "" : parent + ".") + alias.getValue();
            if (distance(leaf, alias.getKey()) <= 2 && knownPaths.contains(target)) {
                return target;
            }
        }
        String best = null;
        int bestScore = Integer.MAX_VALUE;
        for (String known : knownPaths) {
            String knownLeaf = known.substring(known.lastIndexOf('.') + 1);
            int score = Math.min(distance(path, known), distance(leaf, knownLeaf) + 1);
            if (score < bestScore) {
                bestScore = score;
                best = known;
            }
        }
        return bestScore <= Math.max(2, leaf.length() / 3) ? best : null;
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    ObjectNode root() {
        return root;
    }

    boolean isExplicit(String path) {
        return sources.containsKey(path);
    }

    /** Where the value at {@code path} came from: "in my.yaml", "from --set k=v" or "default". */
    String source(String path) {
        return sources.getOrDefault(path, "default");
    }

    ConfigException bad(String path, String problem) {
        return new ConfigException(path + ": " + problem + " (" + source(path) + ")");
    }

    // ---- typed getters -------------------------------------------------------------------

    JsonNode node(String path) {
        JsonNode n = root;
        for (String part : path.split("\\.")) {
            n = n.get(part);
            if (n == null) {
                throw new IllegalStateException("config reader asks for " + path + ", which has no default");
            }
        }
        return n;
    }

    int integer(String path, int min, int max) {
        JsonNode n = node(path);
        String range = max == Integer.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]";
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw bad(path, show(n) + " is not an integer (expected an integer " + range + ")");
        }
        if (n.intValue() < min || n.intValue() > max) {
            throw bad(path, show(n) + " is out of range (expected an integer " + range + ")");
        }
        return n.intValue();
    }

    long longInteger(String path) {
        JsonNode n = node(path);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw bad(path, show(n) + " is not an integer");
        }
        return n.longValue();
    }

    /** A number in [min, max]; {@code minExclusive} makes the lower bound strict. */
    double real(String path, double min, boolean minExclusive, double max) {
        JsonNode n = node(path);
        double v;
        if (n.isNumber()) {
            v = n.doubleValue();
        } else if (n.isTextual() && n.textValue().matches("[-+]?[0-9.]+([eE][-+]?[0-9]+)?")) {
            v = Double.parseDouble(n.textValue()); // YAML 1.1 reads 1e-4 (no dot) as a string
        } else {
            v = Double.NaN;
        }
        String range = (minExclusive ? "> " : ">= ") + min + (max == Double.POSITIVE_INFINITY ? "" : " and <= " + max);
        if (Double.isNaN(v)) {
            throw bad(path, show(n) + " is not a number (expected a number " + range + ")");
        }
        if (v < min || (minExclusive && v == min) || v > max) {
            throw bad(path, show(n) + " is out of range (expected a number " + range + ")");
        }
        return v;
    }

    boolean bool(String path) {
        JsonNode n = node(path);
        if (!n.isBoolean()) {
            throw bad(path, show(n) + " is not a boolean (expected true or false)");
        }
        return n.booleanValue();
    }

    /** A string; null (YAML {@code ~} or empty) is allowed only when {@code nullable}. */
    String string(String path, boolean nullable) {
        JsonNode n = node(path);
        if (n.isNull() && nullable) {
            return null;
        }
        if (!n.isTextual() || n.textValue().isEmpty()) {
            throw bad(path, show(n) + " is not a non-empty string");
        }
        return n.textValue();
    }

    /** An enum constant spelled as its lower-case name. */
    <E extends Enum<E>> E choice(String path, Class<E> type) {
        JsonNode n = node(path);
        E[] values = type.getEnumConstants();
        for (E e : values) {
            if (n.isTextual() && n.textValue().equals(e.name().toLowerCase(Locale.ROOT))) {
                return e;
            }
        }
        throw bad(path, show(n) + " is not one of "
                + Arrays.stream(values).map(e -> e.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", ")));
    }

    /** {@code 512} or {@code [h, w]}, both positive. */
    Size2 size(String path) {
        JsonNode n = node(path);
        if (n.isIntegralNumber() && n.canConvertToInt() && n.intValue() > 0) {
            return Size2.square(n.intValue());
        }
        if (n.isArray() && n.size() == 2 && positiveInt(n.get(0)) && positiveInt(n.get(1))) {
            return new Size2(n.get(0).intValue(), n.get(1).intValue());
        }
        throw bad(path, show(n) + " is not a size (expected a positive integer or [height, width])");
    }

    /** A non-empty list of positive integers. */
    List<Integer> positiveIntList(String path) {
        JsonNode n = node(path);
        List<Integer> out = new ArrayList<>();
        if (n.isArray()) {
            for (JsonNode e : n) {
                if (!positiveInt(e)) {
                    break;
                }
                out.add(e.intValue());
            }
        }
        if (!n.isArray() || n.isEmpty() || out.size() != n.size()) {
            throw bad(path, show(n) + " is not a list of positive integers, e.g. [6, 12, 18]");
        }
        return List.copyOf(out);
    }

    /** A non-empty list of numbers, each in (0, max]. */
    List<Double> positiveRealList(String path, double max) {
        JsonNode n = node(path);
        List<Double> out = new ArrayList<>();
        if (n.isArray()) {
            for (JsonNode e : n) {
                if (!e.isNumber() || !(e.doubleValue() > 0 && e.doubleValue() <= max)) {
                    break;
                }
                out.add(e.doubleValue());
            }
        }
        if (!n.isArray() || n.isEmpty() || out.size() != n.size()) {
            throw bad(path, show(n) + " is not a list of numbers in (0, " + max + "], e.g. [0.75, 1.0, 1.25]");
        }
        return List.copyOf(out);
    }

    /** Null, or a non-empty list of numbers >= 0 (e.g. per-class loss weights). */
    List<Double> nonNegativeRealListOrNull(String path) {
        JsonNode n = node(path);
        if (n.isNull()) {
            return null;
        }
        List<Double> out = new ArrayList<>();
        if (n.isArray()) {
            for (JsonNode e : n) {
                if (!e.isNumber() || !(e.doubleValue() >= 0 && Double.isFinite(e.doubleValue()))) {
                    break;
                }
                out.add(e.doubleValue());
            }
        }
        if (!n.isArray() || n.isEmpty() || out.size() != n.size()) {
            throw bad(path, show(n) + " is not a list of numbers >= 0, one per class, e.g. [0.5, 1, 1]");
        }
        return List.copyOf(out);
    }

    /**
     * A byte count or null: an integer ({@code 1073741824}) or a number with a unit
     * ({@code 512MiB}, {@code 1.5GiB}, {@code 2GB}; KiB/MiB/GiB/TiB are powers of 1024,
     * KB/MB/GB/TB of 1000).
     */
    Long bytesOrNull(String path) {
        JsonNode n = node(path);
        if (n.isNull()) {
            return null;
        }
        if (n.isIntegralNumber() && n.canConvertToLong() && n.longValue() > 0) {
            return n.longValue();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([KMGT]i?B|B)?\\s*")
                .matcher(n.isTextual() ? n.textValue() : "");
        if (m.matches()) {
            String unit = m.group(2) == null ? "B" : m.group(2);
            int power = "BKMGT".indexOf(unit.charAt(0));
            double base = unit.contains("i") ? 1024 : 1000;
            double bytes = Double.parseDouble(m.group(1)) * Math.pow(base, power);
            if (bytes >= 1 && bytes < Long.MAX_VALUE) {
                return (long) bytes;
            }
        }
        throw bad(path, show(n) + " is not a byte count (expected e.g. 1073741824, 512MiB or 2GiB; null for none)");
    }

    /** A positive integer or {@code auto}. */
    BatchSize batch(String path) {
        JsonNode n = node(path);
        if (n.isTextual() && n.textValue().equals("auto")) {
            return BatchSize.AUTO;
        }
        if (positiveInt(n)) {
            return BatchSize.fixed(n.intValue());
        }
        throw bad(path, show(n) + " is not a batch size (expected a positive integer or auto)");
    }

    /** A recompute policy: {@code none}, {@code stages}, {@code sqrt} or {@code auto:<bytes>}. */
    RecomputePolicy recompute(String path) {
        JsonNode n = node(path);
        if (n.isTextual()) {
            try {
                return RecomputePolicy.parse(n.textValue());
            } catch (IllegalArgumentException e) {
                throw bad(path, e.getMessage());
            }
        }
        throw bad(path, show(n) + " is not a recompute policy (expected " + RecomputePolicy.ALLOWED + ")");
    }

    /** A byte size ({@code 6GiB}, {@code 512MiB}, plain bytes) or, when {@code nullable}, null. */
    ByteSize byteSize(String path, boolean nullable) {
        JsonNode n = node(path);
        if (n.isNull() && nullable) {
            return null;
        }
        try {
            if (n.isIntegralNumber() && n.canConvertToLong()) {
                return new ByteSize(n.longValue());
            }
            if (n.isTextual()) {
                return ByteSize.parse(n.textValue());
            }
        } catch (IllegalArgumentException e) {
            throw bad(path, e.getMessage());
        }
        throw bad(path, show(n) + " is not a byte size (write e.g. 6GiB, 512MiB or plain bytes" + (nullable ? ", or null" : "") + ")");
    }

    private static boolean positiveInt(JsonNode n) {
        return n != null && n.isIntegralNumber() && n.canConvertToInt() && n.intValue() > 0;
    }

    private static String keysOf(JsonNode object) {
        List<String> keys = new ArrayList<>();
        object.fieldNames().forEachRemaining(keys::add);
        return String.join(", ", keys);
    }

    private static String label(String path) {
        return path.isEmpty() ? "" : path + ": ";
    }

    /** A value as the user wrote it: strings quoted, the rest as YAML flow text. */
    static String show(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) {
            return "null";
        }
        if (n.isArray()) {
            List<String> items = new ArrayList<>();
            n.forEach(e -> items.add(show(e)));
            return "[" + String.join(", ", items) + "]";
        }
        return n.isTextual() ? "'" + n.textValue() + "'" : n.toString();
    }
}
