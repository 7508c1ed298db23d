package org.leanseg.train;

import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.leanseg.data.Dataset;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * Training batches in a deterministic order: epoch e visits the samples in a permutation drawn
 * from (seed, e); sample i of epoch e is augmented with a generator seeded by (seed, e, i). The
 * position (epoch, index in epoch) is all a checkpoint needs to continue exactly. The next batch
 * is prepared on a background thread while the current step runs. The last partial batch of an
 * epoch is dropped, as mmsegmentation's samplers do for training.
 */
public final class BatchStream implements AutoCloseable {
    /** A stacked batch: images [B,3,H,W], labels [B,H,W]. */
    public record Batch(Tensor images, Tensor labels, int epoch, int position) {
    }

    private final Dataset data;
    private final int batch;
    private final long seed;
    private final int perEpoch;
    private int epoch;
    private int position;
    private int[] order;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "leanseg-loader");
        t.setDaemon(true);
        return t;
    });
    private CompletableFuture<Batch> next;

    public BatchStream(Dataset data, int batch, long seed, int epoch, int position) {
        if (data.size() < batch) {
            throw new IllegalArgumentException("the training set has " + data.size() + " samples, fewer than one batch of " + batch);
        }
        this.data = data;
        this.batch = batch;
        this.seed = seed;
        this.perEpoch = data.size() / batch;
        this.epoch = epoch;
        this.position = position;
        this.order = permutation(epoch);
    }

    /** Epoch and batch index within it of the batch {@link #next()} returns next. */
    public int epoch() {
        return epoch;
    }

    public int position() {
        return position;
    }

    public Batch next() {
        Batch b;
        try {
            b = next != null ? next.join() : load(epoch, position, order);
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        position++;
        if (position == perEpoch) {
            epoch++;
            position = 0;
            order = permutation(epoch);
        }
        int e = epoch;
        int p = position;
        int[] o = order;
        next = CompletableFuture.supplyAsync(() -> load(e, p, o), worker);
        return b;
    }

    private Batch load(int e, int p, int[] o) {
        Dataset.Sample first = null;
        float[] images = null;
        float[] labels = null;
        for (int k = 0; k < batch; k++) {
            int index = o[p * batch + k];
            SplittableRandom rnd = new SplittableRandom(mix(mix(mix(seed) + e) + index));
            Dataset.Sample s = data.get(index, rnd);
            if (first == null) {
                first = s;
                images = new float[batch * s.image().data().length];
                labels = new float[batch * s.label().data().length];
            } else if (!s.image().shape().equals(first.image().shape())) {
                throw new IllegalStateException("sample " + s.id() + " has shape " + s.image().shape() + " but "
                        + first.id() + " has " + first.image().shape() + "; training samples must share one crop size");
            }
            System.arraycopy(s.image().data(), 0, images, k * s.image().data().length, s.image().data().length);
            System.arraycopy(s.label().data(), 0, labels, k * s.label().data().length, s.label().data().length);
        }
        Shape is = first.image().shape();
        return new Batch(new Tensor(TensorSpec.f32(batch, is.dim(0), is.dim(1), is.dim(2)), images),
                new Tensor(TensorSpec.i32(batch, is.dim(1), is.dim(2)), labels), e, p);
    }

    private int[] permutation(int e) {
        int n = data.size();
        int[] o = new int[n];
        for (int i = 0; i < n; i++) {
            o[i] = i;
        }
        SplittableRandom rnd = new SplittableRandom(mix(mix(seed ^ 0x5DEECE66DL) + e));
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        return o;
    }

    /** SplitMix64's finaliser: decorrelates nearby seeds. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
