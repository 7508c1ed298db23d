package org.leanseg.io;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * An open safetensors file: its validated header, and tensors read lazily on request.
 * Opening reads only the 8-byte length and the header, both bounds-checked against the file size
 * before any allocation; {@link #tensor} reads one tensor's byte range in 1 MiB chunks.
 * Floating-point data (F32, F16, BF16) becomes an F32 {@link Tensor}; integer data (I64, I32, U8)
 * an I32 tensor of exact float values, refused when |v| ≥ 2^24. Shape [] stays a scalar.
 *
 * <pre>{@code
 * try (SafetensorsFile f = SafetensorsFile.open(Path.of("tiny.safetensors"))) {
 *     String config = f.metadata().get("model_config");
 *     for (String key : f.keys()) {
 *         System.out.println(key + " " + f.spec(key));   // e.g. init/...num_batches_tracked i64[]
 *     }
 *     Tensor x = f.tensor("input/x");                    // f32[2, 3, 64, 64]
 * }
 * }</pre>
 *
 * Format: https://github.com/huggingface/safetensors#format. Check: {@code mvn -q test -Dtest=SafetensorsTest}.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final int CHUNK_BYTES = 1 << 20;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final SafetensorsHeader header;
    private final Map<String, SafetensorsHeader.Entry> byName = new LinkedHashMap<>();

    private SafetensorsFile(Path file, FileChannel channel, long dataStart, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.header = header;
        for (SafetensorsHeader.Entry e : header.entries) {
            byName.put(e.name(), e);
        }
    }

    /** Opens and validates {@code file}; throws {@link SafetensorsException} naming any problem. */
    public static SafetensorsFile open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long fileBytes = channel.size();
            if (fileBytes < 8) {
                throw new SafetensorsException(file, "file has " + fileBytes + " bytes, too short for the 8-byte header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(file, channel, lengthBytes, 0);
            long headerBytes = lengthBytes.flip().getLong();
            if (headerBytes < 0 || headerBytes > SafetensorsHeader.MAX_HEADER_BYTES) {
                throw new SafetensorsException(file, "not a safetensors file (its first 8 bytes are no header length: "
                        + Long.toUnsignedString(headerBytes) + ")");
            }
            if (headerBytes > fileBytes - 8) {
                throw new SafetensorsException(file, "truncated: the header needs " + headerBytes + " bytes after the length but the file has "
                        + (fileBytes - 8));
            }
            ByteBuffer json = ByteBuffer.allocate((int) headerBytes);
            readFully(file, channel, json, 8);
            long dataStart = 8 + headerBytes;
            SafetensorsHeader header = SafetensorsHeader.parse(file, json.array(), fileBytes - dataStart);
            return new SafetensorsFile(file, channel, dataStart, header);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public Path path() {
        return file;
    }

    /** The {@code __metadata__} map (empty when the file has none), in header order. */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    /** Tensor names in file order (by data offset). */
    public List<String> keys() {
        return List.copyOf(byName.keySet());
    }

    public boolean contains(String key) {
        return byName.containsKey(key);
    }

    /** Shape and <em>stored</em> dtype of {@code key} (e.g. I64 for num_batches_tracked). */
    public TensorSpec spec(String key) throws SafetensorsException {
        return entry(key).spec();
    }

    /** Reads {@code key}: an F32 tensor for floating-point data, I32 for integer data. */
    public Tensor tensor(String key) throws IOException {
        SafetensorsHeader.Entry e = entry(key);
        DType stored = e.spec().dtype();
        long numel = e.spec().shape().numel();
        if (numel > Integer.MAX_VALUE) {
            throw new SafetensorsException(file, "tensor '" + key + "' has " + numel + " elements, more than one Java array holds");
        }
        float[] data = new float[(int) numel];
        int perChunk = CHUNK_BYTES / stored.bytes();
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, e.end() - e.begin())).order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < data.length; ) {
            int count = Math.min(perChunk, data.length - done);
            chunk.clear().limit(count * stored.bytes());
            readFully(file, channel, chunk, dataStart + e.begin() + (long) done * stored.bytes());
            chunk.flip();
            try {
                DTypeCodec.decode(stored, chunk, data, done, count);
            } catch (DTypeCodec.ElementException bad) {
                throw new SafetensorsException(file, "tensor '" + key + "' (" + stored + "): " + bad.getMessage());
            }
            done += count;
        }
        DType dtype = stored.isFloating() ? DType.F32 : DType.I32;
        return new Tensor(new TensorSpec(e.spec().shape(), dtype), data);
    }

    /**
     * Checks the data section against the CRC32C in the metadata ({@link Safetensors#CHECKSUM_KEY});
     * returns false when the file carries none (size and header were checked on opening).
     *
     * @throws SafetensorsException naming the file when the data does not match
     */
    public boolean verify() throws IOException {
        String expected = metadata().get(Safetensors.CHECKSUM_KEY);
        if (expected == null) {
            return false;
        }
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES);
        long end = channel.size();
        for (long pos = dataStart; pos < end; ) {
            chunk.clear().limit((int) Math.min(CHUNK_BYTES, end - pos));
            readFully(file, channel, chunk, pos);
            chunk.flip();
            pos += chunk.remaining();
            crc.update(chunk);
        }
        String actual = String.format("%08x", crc.getValue());
        if (!actual.equals(expected)) {
            throw new SafetensorsException(file, "corrupt: the data's checksum is " + actual + " but the file was saved with " + expected);
        }
        return true;
    }

    /** Reads every tensor, in file order. */
    public Map<String, Tensor> readAll() throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String key : byName.keySet()) {
            out.put(key, tensor(key));
        }
        return out;
    }

    private SafetensorsHeader.Entry entry(String key) throws SafetensorsException {
        SafetensorsHeader.Entry e = byName.get(key);
        if (e == null) {
            throw new SafetensorsException(file, "no tensor named '" + key + "' (" + byName.size() + " tensors in file)");
        }
        return e;
    }

    private static void readFully(Path file, FileChannel channel, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new SafetensorsException(file, "unexpected end of file at byte " + pos
                        + " (was the file truncated while open?)", new EOFException());
            }
            pos += n;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
