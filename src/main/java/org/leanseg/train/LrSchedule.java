package org.leanseg.train;

/**
 * Learning rate by iteration: poly ({@code base * (1 - i/iters)^power}, mmsegmentation's and
 * PaddleSeg's default) or cosine, after a linear warmup from {@code base * warmupRatio} over
 * {@code warmupIters}. Depends on the iteration only, so a resumed run continues exactly.
 */
public record LrSchedule(Kind kind, double base, int iters, double power, int warmupIters, double warmupRatio,
                         double minLr) {
    /** The decay shapes. */
    public enum Kind {
        POLY, COSINE
    }

    public LrSchedule {
        if (iters < 1) {
            throw new IllegalArgumentException("train.iters must be >= 1, got " + iters);
        }
        if (base <= 0) {
            throw new IllegalArgumentException("train.lr must be > 0, got " + base);
        }
    }

    /** The rate for iteration {@code i} (0-based). */
    public double at(int i) {
        double t = Math.min(1.0, (double) i / iters);
        double lr = switch (kind) {
            case POLY -> (base - minLr) * Math.pow(1 - t, power) + minLr;
            case COSINE -> minLr + (base - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
        };
        if (i < warmupIters) {
            double k = warmupRatio + (1 - warmupRatio) * (double) i / warmupIters;
            lr *= k;
        }
        return lr;
    }
}
