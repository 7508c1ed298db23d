package org.leanseg.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Parses and validates a safetensors JSON header against the size of the data section, before
 * anything else is allocated or read. The rules are those of the reference Rust implementation
 * (huggingface/safetensors {@code Metadata::validate}): every tensor's byte range lies inside the
 * data section and matches numel × element size, and the ranges, sorted by offset, tile the
 * data section exactly (no overlap, no gap, nothing left over).
 */
final class SafetensorsHeader {
    /** The reference implementation's limit; a larger header is hostile, not a model. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** One tensor of the file: stored spec and byte range relative to the data section. */
    record Entry(String name, TensorSpec spec, long begin, long end) {
    }

    final Map<String, String> metadata;
    /** Entries in file order (sorted by data offset; header order breaks ties). */
    final List<Entry> entries;

    private SafetensorsHeader(Map<String, String> metadata, List<Entry> entries) {
        this.metadata = metadata;
        this.entries = entries;
    }

    /** Parses {@code json} (the header bytes) for a file whose data section has {@code dataBytes}. */
    static SafetensorsHeader parse(Path file, byte[] json, long dataBytes) throws SafetensorsException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file, "not a safetensors file: its header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new SafetensorsException(file, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(file, "header is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                entries.add(parseEntry(file, field.getKey(), field.getValue(), dataBytes));
            }
        }
        entries.sort(Comparator.comparingLong(Entry::begin)); // stable: ties keep header order
        long expected = 0;
        for (Entry e : entries) {
            if (e.begin() != expected) {
                throw new SafetensorsException(file, "tensor '" + e.name() + "': data_offsets [" + e.begin() + ", "
                        + e.end() + "] " + (e.begin() < expected ? "overlap" : "leave a gap after")
                        + " the previous tensor, which ends at " + expected);
            }
            expected = e.end();
        }
        if (expected != dataBytes) {
            throw new SafetensorsException(file, "tensors cover " + expected + " bytes but the data section has "
                    + dataBytes + (expected > dataBytes ? ": the file is truncated" : " (trailing garbage)"));
        }
        return new SafetensorsHeader(Collections.unmodifiableMap(metadata), List.copyOf(entries));
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) throws SafetensorsException {
        if (!node.isObject()) {
            throw new SafetensorsException(file, "__metadata__ must be an object of strings, got " + node.getNodeType());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) {
                throw new SafetensorsException(file, "__metadata__ value of '" + f.getKey() + "' must be a string, got "
                        + f.getValue().getNodeType());
            }
            out.put(f.getKey(), f.getValue().textValue());
        }
        return out;
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataBytes) throws SafetensorsException {
        String where = "tensor '" + name + "': ";
        if (!node.isObject()) {
            throw new SafetensorsException(file, where + "entry must be an object, got " + node.getNodeType());
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw new SafetensorsException(file, where + "unknown field '" + key
                        + "' (expected dtype, shape, data_offsets)");
            }
        }
        DType dtype = parseDType(file, where, node.get("dtype"));
        Shape shape = parseShape(file, where, node.get("shape"));
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !isNonNegativeLong(offsets.get(0)) || !isNonNegativeLong(offsets.get(1))) {
            throw new SafetensorsException(file, where + "data_offsets must be [begin, end] with 0 <= begin, end, got "
                    + offsets);
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (begin > end) {
            throw new SafetensorsException(file, where + "data_offsets [" + begin + ", " + end + "] are reversed");
        }
        if (end > dataBytes) {
            throw new SafetensorsException(file, where + "data_offsets [" + begin + ", " + end
                    + "] end past the data section (" + dataBytes + " bytes): the file is truncated");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(shape.numel(), dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw new SafetensorsException(file, where + "shape " + shape + " is too large");
        }
        if (end - begin != bytes) {
            throw new SafetensorsException(file, where + "data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + " bytes but " + dtype + shape + " needs " + bytes);
        }
        return new Entry(name, new TensorSpec(shape, dtype), begin, end);
    }

    private static DType parseDType(Path file, String where, JsonNode node) throws SafetensorsException {
        String supported = Arrays.toString(DType.values());
        if (node == null || !node.isTextual()) {
            throw new SafetensorsException(file, where + "dtype must be a string, one of " + supported + ", got " + node);
        }
        try {
            return DType.valueOf(node.textValue());
        } catch (IllegalArgumentException unknown) {
            throw new SafetensorsException(file, where + "unsupported dtype '" + node.textValue()
                    + "' (supported: " + supported + ")");
        }
    }

    private static Shape parseShape(Path file, String where, JsonNode node) throws SafetensorsException {
        if (node == null || !node.isArray()) {
            throw new SafetensorsException(file, where + "shape must be an array of dimensions, got " + node);
        }
        int[] dims = new int[node.size()];
        for (int i = 0; i < dims.length; i++) {
            JsonNode d = node.get(i);
            if (!isNonNegativeLong(d) || d.longValue() > Integer.MAX_VALUE) {
                throw new SafetensorsException(file, where + "shape " + node + ": dimension " + i
                        + " must be an integer in [0, " + Integer.MAX_VALUE + "]");
            }
            dims[i] = d.intValue();
        }
        long numel = 1;
        for (int dim : dims) {
            if (dim == 0) {
                return Shape.of(dims); // empty tensor, whatever the other dimensions
            }
            try {
                numel = Math.multiplyExact(numel, dim);
            } catch (ArithmeticException overflow) {
                throw new SafetensorsException(file, where + "shape " + node + " has more elements than fit in 63 bits");
            }
        }
        return Shape.of(dims);
    }

    private static boolean isNonNegativeLong(JsonNode n) {
        return n != null && n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= 0;
    }
}
