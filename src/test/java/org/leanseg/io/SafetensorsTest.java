package org.leanseg.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.tensor.Half;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** Round trips, every class of hostile file, and the PyTorch oracle {@code tiny.safetensors}. */
class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsOrderShapesValuesAndMetadata() throws IOException {
        Random rnd = new Random(1);
        Map<String, Tensor> state = new LinkedHashMap<>();
        state.put("z.weight", Tensor.gaussian(Shape.of(4, 3, 3, 3), 1, rnd));
        state.put("a.bias", Tensor.gaussian(Shape.of(4), 1, rnd));
        state.put("bn.num_batches_tracked", Tensor.labels(Shape.scalar(), 7));
        state.put("labels", Tensor.labels(Shape.of(2, 3), 0, 1, 255, -3, 16_777_215, -16_777_215));
        state.put("empty", Tensor.zeros(Shape.of(0, 5)));
        Path file = dir.resolve("rt.safetensors");
        Safetensors.write(file, state, Map.of("step", "12", "config", "{\"a\": [1, 2]}"));

        byte[] raw = Files.readAllBytes(file);
        long headerBytes = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerBytes % 8, "header padded to a multiple of 8");
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(List.of("z.weight", "a.bias", "bn.num_batches_tracked", "labels", "empty"), f.keys());
            assertEquals(Map.of("step", "12", "config", "{\"a\": [1, 2]}"), f.metadata());
            assertEquals(new TensorSpec(Shape.scalar(), DType.I64), f.spec("bn.num_batches_tracked"));
            assertEquals(new TensorSpec(Shape.of(4), DType.F32), f.spec("a.bias"));
            for (String key : f.keys()) {
                Tensor back = f.tensor(key);
                Tensor orig = state.get(key);
                assertEquals(orig.spec(), back.spec(), key);
                assertArrayEquals(orig.data(), back.data(), key);
            }
            assertEquals(Shape.scalar(), f.tensor("bn.num_batches_tracked").shape());
            assertTrue(f.contains("empty"));
            SafetensorsException missing = assertThrows(SafetensorsException.class, () -> f.tensor("nope"));
            assertTrue(missing.getMessage().contains("no tensor named 'nope'"), missing.getMessage());
        }
    }

    @Test
    void storedDTypeCanBeChosenPerTensor() throws IOException {
        Map<String, Tensor> state = new LinkedHashMap<>();
        state.put("h", Tensor.of(Shape.of(4), 1f, -2.5f, 65504f, 0.1f));
        state.put("b", Tensor.of(Shape.of(3), 1f, -2.5f, 0.1f));
        state.put("u", Tensor.labels(Shape.of(3), 0, 17, 255));
        state.put("i", Tensor.labels(Shape.of(2), -5, 9));
        Path file = dir.resolve("dtypes.safetensors");
        Safetensors.write(file, state, Map.of(), Map.of("h", DType.F16, "b", DType.BF16, "u", DType.U8, "i", DType.I32));
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(DType.F16, f.spec("h").dtype());
            assertEquals(DType.U8, f.spec("u").dtype());
            assertArrayEquals(new float[] {1f, -2.5f, 65504f, Half.halfToFloat(0x2e66)}, f.tensor("h").data());
            assertArrayEquals(new float[] {1f, -2.5f, Float.intBitsToFloat(0x3dcd0000)}, f.tensor("b").data());
            assertEquals(DType.F32, f.tensor("b").dtype());
            assertEquals(DType.I32, f.tensor("u").dtype());
            assertArrayEquals(new float[] {0, 17, 255}, f.tensor("u").data());
            assertArrayEquals(new float[] {-5, 9}, f.tensor("i").data());
        }
    }

    @Test
    void unwritableValueFailsAndLeavesNoFile() {
        Path file = dir.resolve("bad.safetensors");
        Map<String, Tensor> state = Map.of("w", Tensor.of(Shape.of(2), 1f, 2.5f));
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> Safetensors.write(file, state, Map.of(), Map.of("w", DType.I64)));
        assertTrue(e.getMessage().contains("'w' cannot be stored as I64"), e.getMessage());
        assertFalse(Files.exists(file));
        assertThrows(SafetensorsException.class, () -> Safetensors.write(file, state, Map.of(), Map.of("x", DType.F32)));
        assertThrows(SafetensorsException.class,
                () -> Safetensors.write(file, Map.of("__metadata__", Tensor.zeros(Shape.of(1))), Map.of()));
    }

    @Test
    void halfPrecisionConversionIsExactAndRoundsToNearestEven() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.halfToFloat(h);
            if (!Float.isNaN(f)) {
                assertEquals((short) h, Half.floatToHalf(f), "half 0x" + Integer.toHexString(h));
            }
        }
        assertEquals(1f, Half.halfToFloat(0x3c00));
        assertEquals(0x1p-24f, Half.halfToFloat(0x0001));
        assertEquals((short) 0x7c00, Half.floatToHalf(65520f)); // rounds up to infinity
        assertEquals((short) 0x7bff, Half.floatToHalf(65519f));
        assertEquals((short) 0x3c00, Half.floatToHalf(1f + 0x1p-11f)); // tie to even (down)
        assertEquals((short) 0x3c02, Half.floatToHalf(1f + 3 * 0x1p-11f)); // tie to even (up)
        assertEquals((short) 0x0000, Half.floatToHalf(0x1p-25f)); // tie to even: zero
        assertEquals((short) 0x0001, Half.floatToHalf(0x1.8p-25f));
        assertTrue(Float.isNaN(Half.halfToFloat(Half.floatToHalf(Float.NaN) & 0xffff)));
        assertEquals((short) 0x3f80, Half.floatToBf16(1f));
        assertEquals((short) 0x3f80, Half.floatToBf16(Float.intBitsToFloat(0x3f808000))); // tie, even
        assertEquals((short) 0x3f82, Half.floatToBf16(Float.intBitsToFloat(0x3f818000))); // tie, up
        assertTrue(Float.isNaN(Float.intBitsToFloat(Half.floatToBf16(Float.NaN) << 16)));
    }

    // ---- hostile files -------------------------------------------------------------------

    /** A file with the given header length field, header text and data bytes. */
    private Path raw(String name, long headerLength, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(json).put(data);
        Path p = dir.resolve(name + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private Path file(String name, String header, int dataBytes) throws IOException {
        return raw(name, header.getBytes(StandardCharsets.UTF_8).length, header, new byte[dataBytes]);
    }

    /** Opening and reading every tensor fails with a message naming the file and containing {@code problem}. */
    private void assertRejected(Path p, String problem) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> {
            try (SafetensorsFile f = Safetensors.open(p)) {
                f.readAll();
            }
        });
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(problem), "expected '" + problem + "' in: " + e.getMessage());
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void rejectsBadLengths() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertRejected(tiny, "too short");
        assertRejected(raw("past-end", 1000, "{}", new byte[0]), "truncated: the header needs 1000 bytes after the length but the file has 2");
        assertRejected(raw("huge", 1L << 62, "{}", new byte[0]), "not a safetensors file");
        assertRejected(raw("negative", -8, "{}", new byte[0]), "no header length: 18446744073709551608");
    }

    @Test
    void aTextFileIsNotASafetensorsFile() throws IOException {
        Path text = dir.resolve("notes.safetensors");
        Files.writeString(text, "# this is a README, not weights\n");
        assertRejected(text, "not a safetensors file");
    }

    @Test
    void verifyCatchesAFlippedByteAndATruncatedFile() throws IOException {
        Path p = dir.resolve("v.safetensors");
        Tensor w = Tensor.of(org.leanseg.tensor.Shape.of(64), new float[64]);
        Safetensors.writeVerifiable(p, java.util.Map.of("w", w), java.util.Map.of("k", "v"), java.util.Map.of());
        try (SafetensorsFile f = Safetensors.open(p)) {
            assertTrue(f.verify(), "a checksum was written");
            assertEquals("v", f.metadata().get("k"));
        }
        byte[] bytes = Files.readAllBytes(p);
        bytes[bytes.length - 3] ^= 1; // one bit of the data section
        Files.write(p, bytes);
        SafetensorsException corrupt = assertThrows(SafetensorsException.class, () -> {
            try (SafetensorsFile f = Safetensors.open(p)) {
                f.verify();
            }
        });
        assertTrue(corrupt.getMessage().contains("corrupt: the data's checksum"), corrupt.getMessage());
        Files.write(p, java.util.Arrays.copyOf(bytes, bytes.length - 8));
        assertRejected(p, "the file is truncated");
    }

    @Test
    void rejectsBadJson() throws IOException {
        assertRejected(file("not-json", "{\"a\": [1, 2", 0), "not valid JSON");
        assertRejected(file("array", "[1, 2]", 0), "not a JSON object");
        assertRejected(file("trailing", "{} {}", 0), "not valid JSON");
        assertRejected(file("dup", "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", 8),
                "Duplicate field 'a'");
        Path badUtf8 = dir.resolve("utf8.safetensors");
        byte[] bytes = {2, 0, 0, 0, 0, 0, 0, 0, '"', (byte) 0xff};
        Files.write(badUtf8, bytes);
        assertRejected(badUtf8, "not valid JSON");
        assertRejected(file("meta", "{\"__metadata__\":{\"a\":1}}", 0), "value of 'a' must be a string");
    }

    @Test
    void rejectsBadEntries() throws IOException {
        assertRejected(file("dtype", "{" + entry("w", "F64", "[1]", 0, 8) + "}", 8), "tensor 'w': unsupported dtype 'F64'");
        assertRejected(file("negdim", "{" + entry("w", "F32", "[-1, 2]", 0, 8) + "}", 8), "dimension 0 must be an integer");
        assertRejected(file("bigdim", "{" + entry("w", "U8", "[4294967296]", 0, 8) + "}", 8), "dimension 0 must be");
        assertRejected(file("overflow", "{" + entry("w", "F32", "[2147483647,2147483647,2147483647]", 0, 8) + "}", 8),
                "more elements than fit");
        assertRejected(file("size", "{" + entry("w", "F32", "[3]", 0, 8) + "}", 8), "span 8 bytes but F32[3] needs 12");
        assertRejected(file("range", "{" + entry("w", "F32", "[4]", 0, 16) + "}", 8), "end past the data section (8 bytes): the file is truncated");
        assertRejected(file("reversed", "{" + entry("w", "F32", "[1]", 8, 4) + "}", 8), "reversed");
        assertRejected(file("negoff", "{" + entry("w", "F32", "[1]", -4, 0) + "}", 8), "data_offsets must be");
        assertRejected(file("field", "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 4),
                "unknown field 'x'");
        assertRejected(file("noshape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "shape must be an array");
    }

    @Test
    void rejectsOverlapsGapsAndLeftovers() throws IOException {
        String overlap = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
        assertRejected(file("overlap", overlap, 12), "tensor 'b': data_offsets [4, 12] overlap");
        String gap = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}";
        assertRejected(file("gap", gap, 12), "leave a gap");
        assertRejected(file("leftover", "{" + entry("a", "F32", "[1]", 0, 4) + "}", 12), "cover 4 bytes but the data section has 12");
        // Offsets need not follow header order: file order is offset order.
        String swapped = "{" + entry("b", "F32", "[1]", 4, 8) + "," + entry("a", "F32", "[1]", 0, 4) + "}";
        try (SafetensorsFile f = Safetensors.open(file("swapped", swapped, 8))) {
            assertEquals(List.of("a", "b"), f.keys());
        }
    }

    @Test
    void rejectsIntegersThatAreNotExactFloats() throws IOException {
        String header = "{" + entry("n", "I64", "[2]", 0, 16) + "}";
        byte[] data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(3).putLong(1L << 24).array();
        Path p = raw("i64", header.length(), header, data);
        assertRejected(p, "tensor 'n' (I64): element 1 = 16777216 is not exactly representable");
    }

    // ---- the PyTorch oracle ----------------------------------------------------------------

    @Test
    void readsTheOracle() throws IOException {
        Path oracle = OracleFiles.find("tiny.safetensors").orElse(null);
        Assumptions.assumeTrue(oracle != null,
                "shared/oracle/tiny.safetensors not found (set -Dleanseg.oracle.dir=...): skipping oracle read test");
        try (SafetensorsFile f = Safetensors.open(oracle)) {
            assertEquals(1340, f.keys().size());
            assertEquals("init/backbone.features.0.0.weight", f.keys().get(0));
            assertTrue(f.metadata().get("model_config").contains("\"width_mult\": 0.25"));
            assertEquals("1234", f.metadata().get("seed"));
            assertEquals(TensorSpec.f32(8, 3, 3, 3), f.spec("init/backbone.features.0.0.weight"));
            Tensor w = f.tensor("init/backbone.features.0.0.weight");
            assertEquals(0.037128206342458725f, w.data()[0]);
            assertEquals(-0.38173574209213257f, w.data()[1]);
            Tensor x = f.tensor("input/x");
            assertEquals(TensorSpec.f32(2, 3, 64, 64), x.spec());
            assertEquals(1.4410898685455322f, x.data()[0]);
            assertEquals(-0.28746429085731506f, x.data()[x.data().length - 1]);
            assertEquals(3.4337210655212402f, f.tensor("fwd/loss").data()[0]);
            assertEquals(TensorSpec.f32(1), f.spec("fwd/loss"));
            assertEquals(new TensorSpec(Shape.scalar(), DType.I64), f.spec("fwd/backbone.features.0.1.num_batches_tracked"));
            Tensor nbt = f.tensor("fwd/backbone.features.0.1.num_batches_tracked");
            assertEquals(new TensorSpec(Shape.scalar(), DType.I32), nbt.spec());
            assertEquals(1f, nbt.data()[0]);
            assertEquals(0f, f.tensor("init/backbone.features.0.1.num_batches_tracked").data()[0]);
            Tensor label = f.tensor("input/label");
            assertEquals(TensorSpec.i32(2, 64, 64), label.spec());
            int ignored = 0;
            for (float v : label.data()) {
                ignored += v == 255 ? 1 : 0;
                assertTrue(v == 255 || (v >= 0 && v < 21), "label " + v);
            }
            assertEquals(813, ignored);
            assertEquals(1340, f.readAll().size());
        }
    }
}
