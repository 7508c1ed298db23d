package org.leanseg.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;

/**
 * Reading and writing safetensors files (weights, checkpoints, oracles): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON (space-padded to a multiple of 8 when written), then the
 * row-major little-endian data. Reading validates everything first; see {@link SafetensorsFile}.
 * Writing is atomic ({@link AtomicFiles}): a crash leaves the previous file intact.
 *
 * <pre>{@code
 * Map<String, Tensor> state = new LinkedHashMap<>();
 * state.put("conv.weight", weight);                     // F32 tensor: stored as F32
 * state.put("bn.num_batches_tracked", steps);           // I32 tensor: stored as I64 (PyTorch's type)
 * Safetensors.write(path, state, Map.of("step", "100"));
 * Safetensors.write(path, state, Map.of(), Map.of("conv.weight", DType.BF16)); // choose a stored dtype
 * Map<String, Tensor> back = Safetensors.readAll(path);
 * }</pre>
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK_ELEMENTS = 1 << 16;
    /**
     * Metadata key of the data section's CRC32C (8 lowercase hex digits), written by
     * {@link #writeVerifiable} and checked by {@link SafetensorsFile#verify}. Other readers ignore it.
     */
    public static final String CHECKSUM_KEY = "data_crc32c";

    private Safetensors() {
    }

    /** Opens {@code file} for lazy reading; close it when done. */
    public static SafetensorsFile open(Path file) throws IOException {
        return SafetensorsFile.open(file);
    }

    /** Reads every tensor of {@code file}, in file order. */
    public static Map<String, Tensor> readAll(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.readAll();
        }
    }

    /** The dtype a tensor is stored as unless told otherwise: F32 for floats, I64 for integers. */
    public static DType defaultStoredDType(Tensor t) {
        return t.dtype().isFloating() ? DType.F32 : DType.I64;
    }

    /** Writes {@code tensors} (in map order) with default stored dtypes and the given metadata. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, Map.of());
    }

    /**
     * Writes {@code tensors} in map order; {@code storedDTypes} overrides the stored dtype of some
     * of them (any of F32, F16, BF16, I64, I32, U8; integer types need integral values in range).
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata,
            Map<String, DType> storedDTypes) throws IOException {
        for (String key : storedDTypes.keySet()) {
            if (!tensors.containsKey(key)) {
                throw new SafetensorsException(file, "stored dtype given for '" + key + "', which is not among the tensors");
            }
        }
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        DType[] stored = new DType[tensors.size()];
        int i = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.equals("__metadata__")) {
                throw new SafetensorsException(file, "'" + name + "' cannot be a tensor name");
            }
            stored[i] = storedDTypes.getOrDefault(name, defaultStoredDType(e.getValue()));
            long bytes = e.getValue().shape().numel() * stored[i].bytes();
            ObjectNode entry = header.putObject(name);
            entry.put("dtype", stored[i].name());
            Arrays.stream(e.getValue().shape().dims()).forEach(entry.putArray("shape")::add);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
            i++;
        }
        byte[] headerBytes = paddedHeader(JSON.writeValueAsBytes(header));
        writeFile(file, headerBytes, tensors, stored);
    }

    /**
     * As {@link #write(Path, Map, Map, Map)}, plus the CRC32C of the data section in the metadata
     * under {@link #CHECKSUM_KEY}, so that a reader can tell a complete file from a damaged one
     * ({@link SafetensorsFile#verify}). The data is encoded twice: once for the checksum, which the
     * header (written first) must hold, and once to write it.
     */
    public static void writeVerifiable(Path file, Map<String, Tensor> tensors, Map<String, String> metadata,
            Map<String, DType> storedDTypes) throws IOException {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            DType stored = storedDTypes.getOrDefault(e.getKey(), defaultStoredDType(e.getValue()));
            encode(file, e.getKey(), e.getValue(), stored, (bytes, length) -> crc.update(bytes, 0, length));
        }
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put(CHECKSUM_KEY, String.format("%08x", crc.getValue()));
        write(file, tensors, meta, storedDTypes);
    }

    private static void writeFile(Path file, byte[] headerBytes, Map<String, Tensor> tensors, DType[] stored) throws IOException {
        AtomicFiles.write(file, out -> {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length);
            out.write(length.array());
            out.write(headerBytes);
            int t = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                writeData(file, e.getKey(), e.getValue(), stored[t++], out);
            }
        });
    }

    /** Pads with spaces so the data starts 8-byte aligned, as the reference implementation does. */
    private static byte[] paddedHeader(byte[] json) {
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(Path file, String name, Tensor t, DType stored, OutputStream out) throws IOException {
        encode(file, name, t, stored, (bytes, length) -> out.write(bytes, 0, length));
    }

    /** Where encoded chunks go: a stream, or a checksum. */
    private interface ChunkSink {
        void accept(byte[] bytes, int length) throws IOException;
    }

    private static void encode(Path file, String name, Tensor t, DType stored, ChunkSink sink) throws IOException {
        float[] data = t.data();
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_ELEMENTS * stored.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < data.length; done += CHUNK_ELEMENTS) {
            int count = Math.min(CHUNK_ELEMENTS, data.length - done);
            chunk.clear();
            try {
                DTypeCodec.encode(stored, data, done, count, chunk);
            } catch (DTypeCodec.ElementException bad) {
                throw new SafetensorsException(file, "tensor '" + name + "' cannot be stored as " + stored + ": "
                        + bad.getMessage());
            }
            sink.accept(chunk.array(), chunk.position());
        }
    }
}
