package org.leanseg.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** Loader: determinism across thread counts, mid-epoch resume, bounded prefetch, errors, close. */
class LoaderTest {
    @TempDir
    Path dir;

    /** Sample i: image filled with i + a draw from rnd (or i alone without rnd), label i % 3. */
    static final class Counting implements Dataset {
        final int n;
        final int h;
        final AtomicInteger calls = new AtomicInteger();
        volatile int failAt = -1;

        Counting(int n, int h) {
            this.n = n;
            this.h = h;
        }

        @Override
        public int size() {
            return n;
        }

        @Override
        public int numClasses() {
            return 3;
        }

        @Override
        public List<String> classNames() {
            return List.of("a", "b", "c");
        }

        @Override
        public Sample get(int index, SplittableRandom rnd) {
            calls.incrementAndGet();
            if (index == failAt) {
                throw new DatasetException(Path.of("bad/" + index + ".png"), "broken on purpose");
            }
            int size = rnd == null ? h + index % 2 : h; // whole images differ in size
            float v = index + (rnd == null ? 0 : (float) rnd.nextDouble());
            float[] img = new float[3 * size * 2];
            java.util.Arrays.fill(img, v);
            float[] lab = new float[size * 2];
            java.util.Arrays.fill(lab, index % 3);
            return new Sample(new Tensor(TensorSpec.f32(3, size, 2), img), new Tensor(TensorSpec.i32(size, 2), lab),
                    "s" + index);
        }
    }

    private static List<Loader.Batch> take(Loader l, int k) {
        List<Loader.Batch> out = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            out.add(l.next());
        }
        return out;
    }

    private static void assertSameBatches(List<Loader.Batch> a, List<Loader.Batch> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).ids(), b.get(i).ids(), "batch " + i);
            assertArrayEquals(a.get(i).images().data(), b.get(i).images().data(), "batch " + i);
            assertArrayEquals(a.get(i).labels().data(), b.get(i).labels().data(), "batch " + i);
            assertEquals(a.get(i).next(), b.get(i).next());
        }
    }

    @Test
    void sameSeedSameBatchesWhateverTheThreads() {
        Counting ds = new Counting(10, 4);
        List<Loader.Batch> serial;
        List<Loader.Batch> threaded;
        try (Loader l = Loader.training(ds, 3, 42, 0, new Loader.Cursor(0, 0))) {
            assertEquals(3, l.batchesPerEpoch(), "10 samples, batch 3: the partial batch is dropped");
            serial = take(l, 9);
        }
        try (Loader l = Loader.training(ds, 3, 42, 2, new Loader.Cursor(0, 0))) {
            threaded = take(l, 9);
        }
        assertSameBatches(serial, threaded);
        Loader.Batch b = serial.get(0);
        assertEquals(Shape.of(3, 3, 4, 2), b.images().shape());
        assertEquals(Shape.of(3, 4, 2), b.labels().shape());
        Set<String> epoch0 = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            assertEquals(0, serial.get(i).epoch());
            epoch0.addAll(serial.get(i).ids());
        }
        assertEquals(9, epoch0.size(), "no sample twice in an epoch");
        assertEquals(new Loader.Cursor(1, 0), serial.get(2).next());
        assertEquals(1, serial.get(3).epoch());
        assertNotEquals(serial.get(0).ids(), serial.get(3).ids(), "each epoch has its own order");
        try (Loader other = Loader.training(ds, 3, 43, 0, new Loader.Cursor(0, 0))) {
            assertNotEquals(serial.get(0).ids(), other.next().ids(), "another seed, another order");
        }
    }

    @Test
    void resumingMidEpochContinuesExactly() {
        Counting ds = new Counting(11, 3);
        List<Loader.Batch> full;
        try (Loader l = Loader.training(ds, 2, 7, 2, new Loader.Cursor(0, 0))) {
            full = take(l, 12);
        }
        for (int stop : new int[] {1, 4, 5, 7}) { // mid-epoch and at epoch ends (5 batches per epoch)
            Loader.Cursor saved = full.get(stop).next();
            try (Loader resumed = Loader.training(ds, 2, 7, 1, saved)) {
                assertSameBatches(full.subList(stop + 1, 12), take(resumed, 11 - stop));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Loader.training(ds, 2, 7, 0, new Loader.Cursor(0, 3)));
    }

    /**
     * The window is a property of what the loader submits, not of how fast workers run: with no
     * workers every submitted sample is decoded at once on this thread, so the count after three
     * batches is exact (three taken + two ahead, four samples each) with no waiting.
     */
    @Test
    void prefetchIsBoundedWhateverTheDatasetSize() {
        Counting ds = new Counting(1_000_000, 2);
        try (Loader l = Loader.training(ds, 4, 1, 0, new Loader.Cursor(0, 0))) {
            take(l, 3);
            assertEquals((3 + 2) * 4, ds.calls.get(), "exactly two batches ahead");
            take(l, 1);
            assertEquals((4 + 2) * 4, ds.calls.get(), "one more batch taken, one more submitted");
        }
    }

    @Test
    void evaluationIsOneOrderedPassOfWholeSamples() {
        Counting ds = new Counting(5, 4);
        List<String> ids = new ArrayList<>();
        try (Loader l = Loader.evaluation(ds, 1, 2)) {
            assertEquals(5, l.batchesPerEpoch());
            while (l.hasNext()) {
                Loader.Batch b = l.next();
                ids.addAll(b.ids());
                assertEquals(Integer.parseInt(b.ids().get(0).substring(1)), b.images().data()[0], "no augmentation");
            }
            assertFalse(l.hasNext());
            assertThrows(NoSuchElementException.class, l::next);
        }
        assertEquals(List.of("s0", "s1", "s2", "s3", "s4"), ids);
        try (Loader l = Loader.evaluation(ds, 2, 0)) {
            DatasetException e = assertThrows(DatasetException.class, l::next);
            assertTrue(e.getMessage().contains("batch 1"), e.getMessage());
        }
    }

    @Test
    void sampleErrorsReachTheConsumerUnchanged() {
        Counting ds = new Counting(6, 2);
        ds.failAt = 3;
        try (Loader l = Loader.evaluation(ds, 1, 2)) {
            take(l, 3);
            DatasetException e = assertThrows(DatasetException.class, l::next);
            assertEquals("bad/3.png: broken on purpose", e.getMessage().replace('\\', '/'));
        }
        DatasetException small = assertThrows(DatasetException.class,
                () -> Loader.training(new Counting(3, 2), 4, 0, 0, new Loader.Cursor(0, 0)));
        assertNull(small.file());
        assertTrue(small.getMessage().contains("fewer than one batch"), small.getMessage());
    }

    @Test
    void closeStopsTheThreads() throws InterruptedException {
        Loader l = Loader.training(new Counting(100, 2), 2, 0, 2, new Loader.Cursor(0, 0));
        l.next();
        l.close();
        l.close();
        assertThrows(IllegalStateException.class, l::next);
        long alive = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("leanseg-loader-") && t.isAlive()).count();
        assertEquals(0, alive);
    }

    @Test
    void worksWithARealDataset() throws IOException {
        Fixtures.voc(dir, 21, 13, "a", "b", "c", "d", "e");
        VocDataset ds = new VocDataset(dir, "train", FileDataset.Options.training(Augment.Settings.defaults(16, 12)));
        List<Loader.Batch> one;
        List<Loader.Batch> two;
        try (Loader l = Loader.training(ds, 2, 5, 2, new Loader.Cursor(0, 0))) {
            one = take(l, 4);
        }
        try (Loader l = Loader.training(ds, 2, 5, 0, one.get(1).next())) {
            two = take(l, 2);
        }
        assertSameBatches(one.subList(2, 4), two);
        assertEquals(Shape.of(2, 3, 16, 12), one.get(0).images().shape());
    }
}
