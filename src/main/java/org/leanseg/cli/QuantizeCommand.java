package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.ConfigException;
import org.leanseg.data.Dataset;
import org.leanseg.data.DatasetException;
import org.leanseg.data.Resample;
import org.leanseg.export.Calibration;
import org.leanseg.export.ExportException;
import org.leanseg.export.ExportOptions;
import org.leanseg.export.OnnxExporter;
import org.leanseg.export.QdqQuantizer;
import org.leanseg.export.onnx.OnnxProto.ModelProto;
import org.leanseg.io.AtomicFiles;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.Datasets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code leanseg quantize}: exports a checkpoint as {@code export} does, calibrates activation
 * ranges on the first N training images (unaugmented, resized to the export size, normalised as
 * in training) and writes static int8 QDQ ONNX ({@link QdqQuantizer}). The default calibration is
 * min-max: both models' activations are bounded (ReLU6, or BN-normalised before ReLU), the range
 * never clips a value seen in calibration, and it is what ONNX Runtime's and TFLite's quantisers
 * default to; {@code --method percentile} clips the rare tails (logits, Xception's unbounded
 * ReLUs), which can help when a few outliers stretch a range.
 *
 * <pre>{@code
 * leanseg quantize --checkpoint runs/a/best.safetensors --calibration 100 --out model-int8.onnx
 * leanseg quantize --checkpoint runs/a/best.safetensors --calibration 100 --method percentile --percentile 99.99 --out m.onnx
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=QuantizeCommandTest}.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Static int8 quantisation (QDQ ONNX): per-channel weights, per-tensor activations calibrated on training images.")
public final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "weights (.safetensors)")
    Path checkpoint;

    @Option(names = "--out", required = true, description = "the int8 .onnx file to write")
    Path out;

    @Option(names = "--calibration", defaultValue = "100", description = "training images to calibrate on (default: ${DEFAULT-VALUE})")
    int calibration;

    @Option(names = "--method", defaultValue = "minmax", description = "minmax or percentile (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--percentile", defaultValue = "99.99", description = "with --method percentile: the kept percentile (default: ${DEFAULT-VALUE})")
    double percentile;

    @Option(names = "--reduce-range", negatable = true, description = "7-bit weights, for x86 CPUs without VNNI (AVX2), where "
            + "ONNX Runtime's int8 kernels can saturate with full-range weights (default: on where this CPU lacks VNNI)")
    Boolean reduceRangeOption;

    @Option(names = "--size", description = "HxW of the input (default: the config's crop or synthetic image size)")
    String size;

    @Option(names = "--dynamic", description = "symbolic batch, height and width (calibrated at --size)")
    boolean dynamic;

    @Option(names = "--opset", defaultValue = "" + ExportOptions.DEFAULT_OPSET, description = "ONNX opset (default: ${DEFAULT-VALUE})")
    int opset;

    @Option(names = "--fp32-out", description = "also write the fp32 model calibrated from")
    Path fp32Out;

    @Option(names = "--config", description = "YAML config (its training split calibrates; model from the checkpoint)")
    Path config;

    @Option(names = "--set", description = "override a config key (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() {
        Calibration.Method m;
        try {
            m = Calibration.Method.valueOf(method.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            System.err.println("leanseg quantize: --method " + method + " is not a calibration method; use minmax or percentile");
            return 2;
        }
        if (calibration < 1) {
            System.err.println("leanseg quantize: --calibration " + calibration + " must be at least 1 image");
            return 2;
        }
        try {
            ExportCommand.Source s = ExportCommand.Source.load(checkpoint, config, overrides, size, dynamic, opset, "quantize");
            OnnxExporter.Exported e = OnnxExporter.export(s.model().model(), s.model().store(), s.options(), s.metadata());
            List<Tensor> images = calibrationImages(Datasets.train(s.config()), s.options().height(), s.options().width());
            java.util.Map<String, Calibration.Range> ranges;
            try (Backend backend = new ReferenceBackend()) {
                ranges = Calibration.ranges(s.model().model(), s.model().store(), e, images, backend, m, percentile);
            }
            boolean reduceRange = reduceRangeOption != null ? reduceRangeOption : QdqQuantizer.cpuNeedsReducedRange();
            String described = (m == Calibration.Method.MINMAX ? "minmax" : "percentile " + percentile) + (reduceRange ? ", 7-bit weights" : "");
            ModelProto q = QdqQuantizer.quantize(e.model(), ranges, described + " on " + images.size() + " training images", reduceRange);
            byte[] fp32 = e.model().toByteArray();
            byte[] int8 = q.toByteArray();
            AtomicFiles.write(out, int8);
            if (fp32Out != null) {
                AtomicFiles.write(fp32Out, fp32);
            }
            System.out.printf("wrote %s: int8 QDQ, calibration %s on %d training images, %.2f MB (fp32 %.2f MB, %.1f%%)%n", out,
                    described, images.size(), int8.length / 1e6, fp32.length / 1e6, 100.0 * int8.length / fp32.length);
            return 0;
        } catch (ConfigException | IOException | DatasetException | ExportException | IllegalArgumentException e) {
            System.err.println("leanseg quantize: " + e.getMessage());
            return 2;
        }
    }

    private List<Tensor> calibrationImages(Dataset train, int h, int w) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < Math.min(calibration, train.size()); i++) {
            Tensor im = train.get(i, null).image(); // [3, h0, w0], normalised
            int h0 = im.shape().dim(1);
            int w0 = im.shape().dim(2);
            float[] d = h0 == h && w0 == w ? im.data() : Resample.bilinear(im.data(), 3, h0, w0, h, w);
            out.add(Tensor.of(Shape.of(1, 3, h, w), d));
        }
        return out;
    }
}
