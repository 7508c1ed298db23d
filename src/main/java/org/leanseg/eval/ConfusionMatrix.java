package org.leanseg.eval;

import java.util.Arrays;

/**
 * A streaming confusion matrix over K classes (rows: ground truth, columns: prediction); pixels
 * labelled {@code ignoreIndex} are skipped. Metrics as mmsegmentation computes them: per-class
 * IoU = TP / (TP + FP + FN), mIoU over classes present in ground truth or prediction, aAcc =
 * correct / labelled pixels, per-class accuracy = TP / (TP + FN), mAcc over present classes.
 */
public final class ConfusionMatrix {
    private final int classes;
    private final int ignoreIndex;
    private final long[] counts;

    public ConfusionMatrix(int classes, int ignoreIndex) {
        this.classes = classes;
        this.ignoreIndex = ignoreIndex;
        this.counts = new long[classes * classes];
    }

    /** Adds one batch: {@code truth} and {@code predicted} hold class indices as floats (see Tensor). */
    public void add(float[] truth, float[] predicted) {
        if (truth.length != predicted.length) {
            throw new IllegalArgumentException("label and prediction sizes differ: " + truth.length + " vs " + predicted.length);
        }
        for (int i = 0; i < truth.length; i++) {
            int t = (int) truth[i];
            if (t == ignoreIndex) {
                continue;
            }
            int p = (int) predicted[i];
            if (t < 0 || t >= classes || p < 0 || p >= classes) {
                throw new IllegalArgumentException("label " + t + " or prediction " + p + " outside [0, " + classes + ")");
            }
            counts[t * classes + p]++;
        }
    }

    public void merge(ConfusionMatrix o) {
        for (int i = 0; i < counts.length; i++) {
            counts[i] += o.counts[i];
        }
    }

    public long count(int truth, int predicted) {
        return counts[truth * classes + predicted];
    }

    /** Per-class IoU; NaN for a class absent from both truth and prediction. */
    public double[] iou() {
        double[] r = new double[classes];
        for (int c = 0; c < classes; c++) {
            long tp = count(c, c);
            long fp = 0;
            long fn = 0;
            for (int k = 0; k < classes; k++) {
                if (k != c) {
                    fp += count(k, c);
                    fn += count(c, k);
                }
            }
            long denom = tp + fp + fn;
            r[c] = denom == 0 ? Double.NaN : (double) tp / denom;
        }
        return r;
    }

    /** Per-class accuracy (recall); NaN for a class absent from the truth. */
    public double[] accuracy() {
        double[] r = new double[classes];
        for (int c = 0; c < classes; c++) {
            long row = 0;
            for (int k = 0; k < classes; k++) {
                row += count(c, k);
            }
            r[c] = row == 0 ? Double.NaN : (double) count(c, c) / row;
        }
        return r;
    }

    public double meanIoU() {
        return nanMean(iou());
    }

    public double meanAccuracy() {
        return nanMean(accuracy());
    }

    public double pixelAccuracy() {
        long correct = 0;
        long all = 0;
        for (int c = 0; c < classes; c++) {
            correct += count(c, c);
        }
        for (long v : counts) {
            all += v;
        }
        return all == 0 ? Double.NaN : (double) correct / all;
    }

    public int classes() {
        return classes;
    }

    static double nanMean(double[] v) {
        return Arrays.stream(v).filter(d -> !Double.isNaN(d)).average().orElse(Double.NaN);
    }
}
