package org.leanseg.data;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Batches from any {@link Dataset}, decoded and augmented by background threads into a bounded
 * prefetch window. The data are a pure function of (seed, epoch, index): the epoch's order is a
 * permutation drawn from (seed, epoch), each sample's augmentation from (seed, epoch, index), so
 * the batches do not depend on thread timing, and a loader opened at a {@link Cursor} saved from
 * {@link Batch#next()} continues exactly as the original would have (mid-epoch resume).
 *
 * <p>Memory: at most two batches of samples are decoded ahead of the consumer, whatever the
 * dataset's size. One thread consumes (not thread-safe); the workers only call
 * {@link Dataset#get}. Training loaders repeat forever, epoch after epoch, and
 * drop each epoch's last partial batch (every batch then has the same shape); evaluation loaders
 * make one in-order pass with whole images ({@code rnd == null}) and keep the partial batch.
 *
 * <pre>{@code
 * try (Loader l = Loader.training(ds, 8, seed, 2, new Loader.Cursor(0, 0))) {
 *     Loader.Batch b = l.next();      // b.images() [8, 3, H, W], b.labels() [8, H, W]
 *     checkpoint.save(b.next());      // resume later with Loader.training(ds, 8, seed, 2, saved)
 * }
 * }</pre>
 *
 * Check: {@code mvn -q test -Dtest=LoaderTest}.
 */
public final class Loader implements AutoCloseable {
    /**
     * Batches queued ahead of the consumer: one being finished while the next is decoded; each
     * batch's samples already spread over the workers.
     */
    private static final int WINDOW_BATCHES = 2;
    private static final AtomicInteger POOLS = new AtomicInteger();

    /**
     * A position in the data stream: {@code position} samples of {@code epoch} are consumed.
     *
     * @param epoch 0-based epoch
     * @param position samples of this epoch already consumed (a multiple of the batch size)
     */
    public record Cursor(int epoch, int position) {
        public Cursor {
            if (epoch < 0 || position < 0) {
                throw new IllegalArgumentException("cursor must be non-negative, got " + epoch + "/" + position);
            }
        }
    }

    /**
     * One batch.
     *
     * @param images f32 [B, 3, H, W]
     * @param labels i32 [B, H, W]
     * @param ids the samples' ids, in batch order
     * @param epoch the epoch the batch belongs to
     * @param next where the batch after this one starts: save it to resume
     */
    public record Batch(Tensor images, Tensor labels, List<String> ids, int epoch, Cursor next) {
    }

    private final Dataset dataset;
    private final int batchSize;
    private final long seed;
    private final boolean training;
    private final int batchesPerEpoch;
    private final ExecutorService pool;
    private final Deque<Pending> pending = new ArrayDeque<>();
    private Cursor submitted;
    private int[] order;
    private int orderEpoch = -1;
    private boolean closed;

    private record Pending(List<Future<Dataset.Sample>> samples, int epoch, Cursor next) {
    }

    private Loader(Dataset dataset, int batchSize, long seed, boolean training, int workers, Cursor from) {
        if (batchSize < 1 || workers < 0) {
            throw new IllegalArgumentException("batch size must be >= 1 and workers >= 0, got " + batchSize + ", "
                    + workers);
        }
        int n = dataset.size();
        this.batchesPerEpoch = training ? n / batchSize : (n + batchSize - 1) / batchSize;
        if (batchesPerEpoch == 0) {
            throw new DatasetException(null, "the dataset has " + n + " samples, fewer than one batch of "
                    + batchSize + "; lower train.batch or add samples");
        }
        if (from.position % batchSize != 0 || from.position >= batchesPerEpoch * batchSize) {
            throw new IllegalArgumentException("cursor " + from + " is not a batch start of this loader (batch "
                    + batchSize + ", " + batchesPerEpoch + " batches per epoch): was it saved with another batch "
                    + "size or dataset?");
        }
        this.dataset = dataset;
        this.batchSize = batchSize;
        this.seed = seed;
        this.training = training;
        this.submitted = from;
        int id = POOLS.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        this.pool = workers == 0 ? null : Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "leanseg-loader-" + id + "-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * An endless stream of augmented, shuffled batches starting at {@code from}; {@code workers}
     * background threads (0: decode on the caller's thread).
     */
    public static Loader training(Dataset dataset, int batchSize, long seed, int workers, Cursor from) {
        return new Loader(dataset, batchSize, seed, true, workers, from);
    }

    /** One in-order pass over whole (unaugmented) samples; batch 1 when image sizes differ. */
    public static Loader evaluation(Dataset dataset, int batchSize, int workers) {
        return new Loader(dataset, batchSize, 0, false, workers, new Cursor(0, 0));
    }

    /** Batches per epoch (the last partial batch dropped when training). */
    public int batchesPerEpoch() {
        return batchesPerEpoch;
    }

    /** False only for an evaluation loader that has handed out its pass. */
    public boolean hasNext() {
        fill();
        return !pending.isEmpty();
    }

    /** The next batch; rethrows a sample's {@link DatasetException} as is. */
    public Batch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the evaluation pass is complete");
        }
        Pending p = pending.removeFirst();
        List<Dataset.Sample> samples = new ArrayList<>(p.samples.size());
        try {
            for (Future<Dataset.Sample> f : p.samples) {
                samples.add(f.get());
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the data loader", e);
        }
        fill();
        return stack(samples, p.epoch, p.next);
    }

    /** Queues batches until the window is full (or the evaluation pass is all queued). */
    private void fill() {
        if (closed) {
            throw new IllegalStateException("the loader is closed");
        }
        while (pending.size() < WINDOW_BATCHES && (training || submitted.epoch == 0)) {
            Cursor at = submitted;
            int end = Math.min(at.position + batchSize, dataset.size());
            List<Future<Dataset.Sample>> futures = new ArrayList<>(end - at.position);
            for (int pos = at.position; pos < end; pos++) {
                int index = indexAt(at.epoch, pos);
                SplittableRandom rnd = training ? new SplittableRandom(sampleSeed(seed, at.epoch, index)) : null;
                futures.add(submit(index, rnd));
            }
            submitted = end >= batchesPerEpoch * batchSize || end == dataset.size()
                    ? new Cursor(at.epoch + 1, 0) : new Cursor(at.epoch, end);
            pending.addLast(new Pending(futures, at.epoch, submitted));
        }
    }

    private Future<Dataset.Sample> submit(int index, SplittableRandom rnd) {
        if (pool != null) {
            return pool.submit(() -> dataset.get(index, rnd));
        }
        CompletableFuture<Dataset.Sample> done = new CompletableFuture<>();
        try {
            done.complete(dataset.get(index, rnd));
        } catch (RuntimeException e) {
            done.completeExceptionally(e);
        }
        return done;
    }

    /** Dataset index at {@code position} of {@code epoch}: a (seed, epoch) permutation when training. */
    private int indexAt(int epoch, int position) {
        if (!training) {
            return position;
        }
        if (orderEpoch != epoch) {
            order = permutation(dataset.size(), mix(mix(seed) + epoch));
            orderEpoch = epoch;
        }
        return order[position];
    }

    /** Fisher-Yates shuffle of 0..n-1 driven by {@code key}. */
    static int[] permutation(int n, long key) {
        SplittableRandom rnd = new SplittableRandom(key);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The augmentation seed of sample {@code index} in {@code epoch}: independent of thread timing. */
    public static long sampleSeed(long seed, int epoch, int index) {
        return mix(mix(mix(seed) ^ 0x9E3779B97F4A7C15L * (epoch + 1L)) + index);
    }

    /** SplitMix64's finaliser: a bijective 64-bit mix. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static Batch stack(List<Dataset.Sample> samples, int epoch, Cursor next) {
        Dataset.Sample first = samples.get(0);
        int b = samples.size();
        int imageSize = first.image().data().length;
        int labelSize = first.label().data().length;
        int[] dims = first.image().shape().dims(); // [3, H, W]
        float[] images = new float[b * imageSize];
        float[] labels = new float[b * labelSize];
        List<String> ids = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            Dataset.Sample s = samples.get(i);
            if (!s.image().shape().equals(first.image().shape()) || !s.label().shape().equals(first.label().shape())) {
                throw new DatasetException(null, "samples of one batch must have one size, but " + first.id() + " is "
                        + first.image().shape() + " and " + s.id() + " is " + s.image().shape()
                        + "; evaluate whole images with batch 1 (or crop/slide)");
            }
            System.arraycopy(s.image().data(), 0, images, i * imageSize, imageSize);
            System.arraycopy(s.label().data(), 0, labels, i * labelSize, labelSize);
            ids.add(s.id());
        }
        return new Batch(new Tensor(TensorSpec.f32(b, dims[0], dims[1], dims[2]), images),
                new Tensor(TensorSpec.i32(b, dims[1], dims[2]), labels), List.copyOf(ids), epoch, next);
    }

    /** Stops the worker threads; queued work is dropped. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        pending.forEach(p -> p.samples.forEach(f -> f.cancel(true)));
        pending.clear();
        if (pool != null) {
            pool.shutdownNow();
            try {
                if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("data loader threads did not stop within 30 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
