package org.leanseg.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.config.ConfigException;
import org.leanseg.config.EvalConfig;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.data.DatasetException;
import org.leanseg.eval.ConfusionMatrix;
import org.leanseg.eval.Evaluator;
import org.leanseg.eval.Inference;
import org.leanseg.infer.CheckpointModel;
import org.leanseg.io.AtomicFiles;
import org.leanseg.train.Datasets;
import org.leanseg.train.IouTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code leanseg eval}: evaluates a checkpoint on the configured validation split (whole or slide
 * inference, optional flip and scales), prints the per-class IoU table and writes the metrics as
 * JSON next to the checkpoint ({@code <checkpoint>.eval.<time>.json}, one per evaluation) or to {@code --out}. Whole images
 * whose plan exceeds the memory budget are slid (see {@link InferenceOptions#budget}).
 *
 * <pre>{@code
 * leanseg eval --config voc.yaml --checkpoint runs/voc/best.safetensors --mode slide --flip --scales 0.75,1.0,1.25
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=VocCommandsTest+EvalPredictCommandTest}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a checkpoint on the validation split (mIoU, aAcc, mAcc, per-class IoU).")
public final class EvalCommand implements Callable<Integer> {
    @Mixin
    InferenceOptions opts;

    @Option(names = "--out", description = "JSON result file (default: <checkpoint>.eval.<time>.json beside the checkpoint, one per evaluation)")
    Path out;

    @Option(names = "--engine", defaultValue = "leanseg", description = "leanseg, or onnxruntime to evaluate the .onnx model that "
            + "--checkpoint names (whole images; default: ${DEFAULT-VALUE})")
    String engine;

    @Override
    public Integer call() {
        TrainingConfig cfg;
        try {
            cfg = RunConfigs.load(opts, System.out::println);
        } catch (ConfigException e) {
            CliErrors.print(System.err, "leanseg eval: ", e);
            return 2;
        }
        try {
            if (Engines.onnxRuntime(engine, cfg, opts.flip, "eval")) {
                return evalOrt(cfg);
            }
            CheckpointModel m = CheckpointModel.load(opts.checkpoint, Datasets.modelConfig(cfg));
            if (m.note() != null) {
                System.out.println(m.note());
            }
            Dataset val = Datasets.val(cfg);
            int classes = m.model().config().numClasses();
            if (val.numClasses() != classes) {
                throw new ConfigException(opts.checkpoint + " predicts " + classes + " classes but the validation set has "
                        + val.numClasses() + "; evaluate on the dataset the model was trained for");
            }
            Inference inference = Inference.of(cfg.eval(), opts.flip);
            Backends.Choice choice = Backends.create(cfg.device().yamlName());
            System.out.println(choice.line());
            long t0 = System.nanoTime();
            ConfusionMatrix cm;
            String used;
            // one image at a time: validation images differ in size and memory stays that of one image
            int batch = 1;
            try (Backend backend = choice.backend();
                 Evaluator ev = new Evaluator(m.model(), backend, m.store(), batch, inference,
                         InferenceOptions.budget(cfg, backend, System.out::println))) {
                cm = ev.evaluate(val, null);
                used = ev.used();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.println("evaluated " + opts.checkpoint + " on " + val.size() + " images (" + used + ", "
                    + String.format("%.1f s", seconds) + "):");
            System.out.println(IouTable.format(val.classNames(), cm.iou(), cm.accuracy(), cm.meanIoU(), cm.pixelAccuracy(), cm.meanAccuracy()));
            Path target = out != null ? out : keptPath(opts.checkpoint);
            AtomicFiles.write(target, new ObjectMapper().writerWithDefaultPrettyPrinter()
                    .writeValueAsBytes(result(val, cm, inference, used, seconds)));
            System.out.println("wrote " + target);
            return 0;
        } catch (ConfigException | IOException | DatasetException | IllegalArgumentException | IllegalStateException e) {
            CliErrors.print(System.err, "leanseg eval: ", e);
            return 2;
        }
    }

    /** {@code --engine onnxruntime}: the exported (or quantised) model on every validation image, whole. */
    private int evalOrt(TrainingConfig cfg) throws IOException {
        Dataset val = Datasets.val(cfg);
        Inference inference = Inference.whole(false);
        long t0 = System.nanoTime();
        ConfusionMatrix cm = new ConfusionMatrix(val.numClasses(), 255);
        try (org.leanseg.export.OrtModel ort = org.leanseg.export.OrtModel.open(opts.checkpoint)) {
            System.out.println("engine: onnxruntime (CPU), " + opts.checkpoint);
            for (int i = 0; i < val.size(); i++) {
                Dataset.Sample d = val.get(i, null);
                cm.add(d.label().data(), ort.segment(d.image()));
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.println("evaluated " + opts.checkpoint + " on " + val.size() + " images (onnxruntime, whole, "
                + String.format("%.1f s", seconds) + "):");
        System.out.println(IouTable.format(val.classNames(), cm.iou(), cm.accuracy(), cm.meanIoU(), cm.pixelAccuracy(), cm.meanAccuracy()));
        Path target = out != null ? out : opts.checkpoint.resolveSibling(stem(opts.checkpoint) + ".eval.json");
        AtomicFiles.write(target, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(result(val, cm, inference, "onnxruntime whole", seconds)));
        System.out.println("wrote " + target);
        return 0;
    }

    private Map<String, Object> result(Dataset val, ConfusionMatrix cm, Inference inference, String used, double seconds) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("checkpoint", opts.checkpoint.toString());
        r.put("mode", inference.mode().yamlName());
        if (inference.mode() == EvalConfig.Mode.SLIDE) {
            r.put("crop_size", List.of(inference.cropHeight(), inference.cropWidth()));
            r.put("stride", List.of(inference.strideHeight(), inference.strideWidth()));
        }
        r.put("mode_used", used);
        r.put("flip", inference.flip());
        r.put("scales", inference.scales());
        r.put("images", val.size());
        r.put("mIoU", nullable(cm.meanIoU()));
        r.put("aAcc", nullable(cm.pixelAccuracy()));
        r.put("mAcc", nullable(cm.meanAccuracy()));
        List<Map<String, Object>> per = new ArrayList<>();
        double[] iou = cm.iou();
        double[] acc = cm.accuracy();
        for (int c = 0; c < iou.length; c++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("class", c < val.classNames().size() ? val.classNames().get(c) : "class " + c);
            row.put("IoU", nullable(iou[c]));
            row.put("Acc", nullable(acc[c]));
            per.add(row);
        }
        r.put("per_class", per);
        r.put("eval_s", Math.round(seconds * 1000) / 1000.0);
        return r;
    }

    private static Double nullable(double v) {
        return Double.isNaN(v) ? null : v;
    }

    /** {@code <checkpoint>.eval.<time>.json}: each evaluation's result is kept, none overwritten. */
    static Path keptPath(Path checkpoint) {
        String time = java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path p = checkpoint.resolveSibling(stem(checkpoint) + ".eval." + time + ".json");
        for (int i = 2; java.nio.file.Files.exists(p); i++) {
            p = checkpoint.resolveSibling(stem(checkpoint) + ".eval." + time + "-" + i + ".json");
        }
        return p;
    }

    static String stem(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
