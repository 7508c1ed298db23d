package org.leanseg.export;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Value;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.tensor.Tensor;

/**
 * Activation ranges for static int8 quantisation, taken by running LeanSeg's own eval forward on
 * calibration images with every tensor the ONNX graph holds kept as an output. {@code MINMAX}: the
 * smallest and largest value seen. {@code PERCENTILE}: a second pass fills a 2048-bin histogram
 * per tensor over that range and takes the {@code 100 − p} and {@code p} percentiles, clipping
 * rare outliers (ONNX Runtime's and TensorRT's percentile calibrators do the same). Every range is
 * widened to contain 0, so that zero (padding, ReLU's floor) is exact in int8.
 *
 * <pre>{@code
 * Map<String, Calibration.Range> r = Calibration.ranges(model, store, exported, images, backend, Method.MINMAX, 99.99);
 * }</pre>
 */
public final class Calibration {
    static final int BINS = 2048;

    /** How ranges are taken from the calibration activations. */
    public enum Method {
        MINMAX, PERCENTILE
    }

    /** A tensor's range, 0 inside it. */
    public record Range(float min, float max) {
    }

    private Calibration() {
    }

    /** Ranges of each float tensor of {@code e} over {@code images} ([1, 3, H, W] each, all one size). */
    public static Map<String, Range> ranges(DeepLabV3Plus model, VariableStore store, OnnxExporter.Exported e, List<Tensor> images,
                                            Backend backend, Method method, double percentile) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("calibration needs at least one image");
        }
        if (!(percentile > 50 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile must be in (50, 100], got " + percentile);
        }
        OnnxExporter.Traced t = OnnxExporter.trace(model, images.get(0).shape());
        Map<String, Value> tensors = new HashMap<>();
        e.tensorValues().forEach((name, id) -> {
            Value v = t.graph().values().get(id);
            t.graph().markOutput(v);
            tensors.put(name, v);
        });
        Map<String, float[]> minMax = new HashMap<>();
        Map<String, long[]> hist = new HashMap<>();
        try (Executor ex = new Executor(t.graph(), backend, store)) {
            for (Tensor im : images) {
                ex.run(Map.of(t.image(), im));
                tensors.forEach((name, v) -> {
                    float[] d = ex.read(v).data();
                    float[] mm = minMax.computeIfAbsent(name, k -> new float[] {0f, 0f});
                    for (float x : d) {
                        mm[0] = Math.min(mm[0], x);
                        mm[1] = Math.max(mm[1], x);
                    }
                });
            }
            if (method == Method.PERCENTILE) {
                for (Tensor im : images) {
                    ex.run(Map.of(t.image(), im));
                    tensors.forEach((name, v) -> histogram(ex.read(v).data(), minMax.get(name),
                            hist.computeIfAbsent(name, k -> new long[BINS])));
                }
            }
        }
        Map<String, Range> out = new HashMap<>();
        minMax.forEach((name, mm) -> out.put(name, method == Method.MINMAX ? new Range(mm[0], mm[1])
                : percentileRange(hist.get(name), mm, percentile)));
        return out;
    }

    private static void histogram(float[] d, float[] mm, long[] h) {
        double width = (mm[1] - mm[0]) / BINS;
        if (width <= 0) {
            return;
        }
        for (float x : d) {
            h[(int) Math.min(BINS - 1, Math.max(0, (x - mm[0]) / width))]++;
        }
    }

    /** The bin edges below which (100 − p)% and p% of the values lie, widened to contain 0. */
    static Range percentileRange(long[] h, float[] mm, double p) {
        long total = 0;
        for (long c : h) {
            total += c;
        }
        if (total == 0) {
            return new Range(mm[0], mm[1]);
        }
        double width = (mm[1] - mm[0]) / (double) BINS;
        double tail = total * (100 - p) / 100;
        long seen = 0;
        int lo = 0;
        while (lo < BINS - 1 && seen + h[lo] <= tail) {
            seen += h[lo++];
        }
        seen = 0;
        int hi = BINS - 1;
        while (hi > 0 && seen + h[hi] <= tail) {
            seen += h[hi--];
        }
        float min = (float) Math.min(0, mm[0] + lo * width);
        float max = (float) Math.max(0, mm[0] + (hi + 1) * width);
        return new Range(min, max);
    }
}
