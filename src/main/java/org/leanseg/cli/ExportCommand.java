package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.leanseg.config.ConfigException;
import org.leanseg.config.DataConfig;
import org.leanseg.config.Size2;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.DatasetException;
import org.leanseg.data.Normalization;
import org.leanseg.export.ExportException;
import org.leanseg.export.ExportMetadata;
import org.leanseg.export.ExportOptions;
import org.leanseg.export.OnnxExporter;
import org.leanseg.infer.CheckpointModel;
import org.leanseg.io.AtomicFiles;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.train.Datasets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code leanseg export}: writes a checkpoint's inference graph as ONNX (see
 * {@link OnnxExporter}): BN folded into the convolutions, bilinear resizes as ONNX Resize with the
 * model's align_corners, and metadata for normalisation, class names and palette.
 *
 * <pre>{@code
 * leanseg export --checkpoint runs/a/best.safetensors --out model.onnx --size 512x512
 * leanseg export --checkpoint runs/a/best.safetensors --out model.onnx --dynamic --opset 13
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=ExportCommandTest}.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a checkpoint's inference graph as ONNX (BN folded, metadata for preprocessing and colours).")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "weights (.safetensors)")
    Path checkpoint;

    @Option(names = "--out", required = true, description = "the .onnx file to write")
    Path out;

    @Option(names = "--size", description = "HxW of the input (default: the config's crop or synthetic image size)")
    String size;

    @Option(names = "--dynamic", description = "symbolic batch, height and width (any image size at run time)")
    boolean dynamic;

    @Option(names = "--opset", defaultValue = "" + ExportOptions.DEFAULT_OPSET,
            description = "ONNX opset, " + ExportOptions.MIN_OPSET + " to " + ExportOptions.MAX_OPSET + " (default: ${DEFAULT-VALUE})")
    int opset;

    @Option(names = "--config", description = "YAML config (class names and palette of its dataset; model from the checkpoint)")
    Path config;

    @Option(names = "--set", description = "override a config key (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() {
        try {
            Source s = Source.load(checkpoint, config, overrides, size, dynamic, opset, "export");
            OnnxExporter.Exported e = OnnxExporter.export(s.model().model(), s.model().store(), s.options(), s.metadata());
            byte[] bytes = e.model().toByteArray();
            AtomicFiles.write(out, os -> os.write(bytes));
            System.out.printf("wrote %s: %s, opset %d, input image [%s], %d nodes, %.1f MB%n", out, s.model().model().config().name(),
                    opset, dynamic ? "N, 3, H, W" : "1, 3, " + s.options().height() + ", " + s.options().width(),
                    e.model().getGraph().getNodeCount(), bytes.length / 1e6);
            return 0;
        } catch (ConfigException | IOException | DatasetException | ExportException | IllegalArgumentException e) {
            System.err.println("leanseg export: " + e.getMessage());
            return 2;
        }
    }

    /** What export and quantize read: the model, its export options and metadata, and the configuration. */
    record Source(CheckpointModel model, ExportOptions options, ExportMetadata metadata, TrainingConfig config) {
        static Source load(Path checkpoint, Path config, List<String> overrides, String size, boolean dynamic, int opset,
                           String command) throws IOException {
            TrainingConfig cfg = RunConfigs.load(config, checkpoint, overrides, () -> TrainingConfig.load(config, overrides),
                    System.out::println);
            CheckpointModel m = CheckpointModel.load(checkpoint, Datasets.modelConfig(cfg));
            Normalization norm;
            try (SafetensorsFile f = SafetensorsFile.open(checkpoint)) {
                norm = Normalization.fromJson(f.metadata().get("normalization"));
            }
            int[] hw = size != null ? Sizes.parse(size, "--size") : defaultSize(cfg);
            List<String> names = null;
            try {
                names = Datasets.val(cfg).classNames();
            } catch (ConfigException | DatasetException | IllegalArgumentException | IllegalStateException e) {
                System.err.println("leanseg " + command + ": no class names (" + e.getMessage() + "); writing 'class 0'.. instead");
            }
            int classes = m.model().config().numClasses();
            ExportMetadata meta = ExportMetadata.of(norm, names, org.leanseg.data.Datasets.palette(cfg.data()), classes,
                    m.model().config().toString());
            return new Source(m, new ExportOptions(hw[0], hw[1], dynamic, opset), meta, cfg);
        }

        private static int[] defaultSize(TrainingConfig cfg) {
            DataConfig d = cfg.data();
            Size2 s = d.type() == DataConfig.Type.SYNTHETIC ? d.synthetic().imageSize() : d.cropSize();
            return new int[] {s.height(), s.width()};
        }
    }
}
