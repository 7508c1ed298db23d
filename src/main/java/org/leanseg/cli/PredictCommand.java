package org.leanseg.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Augment;
import org.leanseg.data.DatasetException;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;
import org.leanseg.data.Palette;
import org.leanseg.data.RgbImage;
import org.leanseg.eval.Evaluator;
import org.leanseg.eval.Inference;
import org.leanseg.infer.CheckpointModel;
import org.leanseg.io.AtomicFiles;
import org.leanseg.train.Datasets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code leanseg predict}: segments an image or every image of a folder and writes
 * {@code <out>/<name>.png} index masks (8-bit palette PNGs in the configured dataset's colours, its
 * {@code palette.txt}, else the VOC palette) and, with {@code --show-dir}, colour overlays blended
 * with the image at {@code --opacity}. Images are normalised as the model's training data was
 * (the checkpoint's {@code normalization} metadata; ImageNet's mean/std for files without it) and
 * run as {@code eval} runs them ({@code --mode}, {@code --flip}, {@code --scales}, memory budget).
 *
 * <pre>{@code
 * leanseg predict --checkpoint runs/a/best.safetensors --config mine.yaml --input photos/ --out masks/ --show-dir show/
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=VocCommandsTest+EvalPredictCommandTest}.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Segment images: index-mask PNGs and optional coloured overlays.")
public final class PredictCommand implements Callable<Integer> {
    @Mixin
    InferenceOptions opts;

    private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".bmp");

    private org.leanseg.data.Normalization normalization = org.leanseg.data.Normalization.imagenet();

    @Option(names = "--input", required = true, description = "an image file or a folder of images")
    Path input;

    @Option(names = "--out", required = true, description = "folder for the index-mask PNGs")
    Path out;

    @Option(names = "--show-dir", description = "folder for coloured overlays")
    Path showDir;

    @Option(names = "--opacity", defaultValue = "0.5", description = "overlay colour weight, 0..1 (default 0.5)")
    double opacity;

    @Option(names = "--engine", defaultValue = "leanseg", description = "leanseg, or onnxruntime to run the .onnx model that "
            + "--checkpoint names (whole images; default: ${DEFAULT-VALUE})")
    String engine;

    @Override
    public Integer call() {
        if (!(opacity >= 0 && opacity <= 1)) {
            System.err.println("leanseg predict: --opacity " + opacity + " is outside 0..1");
            return 2;
        }
        try {
            TrainingConfig cfg = RunConfigs.load(opts, System.out::println);
            boolean onnxRuntime = Engines.onnxRuntime(engine, cfg, opts.flip, "predict");
            List<Path> images = inputs();
            if (onnxRuntime) {
                return predictOrt(cfg, images);
            }
            CheckpointModel m = CheckpointModel.load(opts.checkpoint, Datasets.modelConfig(cfg));
            if (m.note() != null) {
                System.out.println(m.note());
            }
            try (org.leanseg.io.SafetensorsFile f = org.leanseg.io.SafetensorsFile.open(opts.checkpoint)) {
                normalization = org.leanseg.data.Normalization.fromJson(f.metadata().get("normalization"));
            }
            Palette palette = org.leanseg.data.Datasets.palette(cfg.data());
            System.out.println("colours: " + palette.source());
            Files.createDirectories(out);
            if (showDir != null) {
                Files.createDirectories(showDir);
            }
            Backends.Choice choice = Backends.create(cfg.device().yamlName());
            try (Backend backend = choice.backend();
                 Evaluator ev = new Evaluator(m.model(), backend, m.store(), 1, Inference.of(cfg.eval(), opts.flip),
                         InferenceOptions.budget(cfg, backend, System.out::println))) {
                for (int i = 0; i < images.size(); i++) {
                    try {
                        predictOne(ev::segment, images.get(i), palette);
                    } catch (DatasetException e) {
                        // every file written so far is complete (atomic writes); say how far it got
                        throw new DatasetException(e.file(), e.problem() + " (" + i + " of " + images.size()
                                + " images done before this one, their masks complete in " + out + ")", e);
                    }
                }
                System.out.println("inference: " + ev.used());
            }
            System.out.println("wrote " + images.size() + " masks to " + out + (showDir != null ? " and overlays to " + showDir : ""));
            return 0;
        } catch (ConfigException | IOException | DatasetException | IllegalArgumentException | IllegalStateException e) {
            CliErrors.print(System.err, "leanseg predict: ", e);
            return 2;
        }
    }

    /** {@code --engine onnxruntime}: the exported model, its own normalisation metadata, whole images. */
    private int predictOrt(TrainingConfig cfg, List<Path> images) throws IOException {
        Palette palette = org.leanseg.data.Datasets.palette(cfg.data());
        Files.createDirectories(out);
        if (showDir != null) {
            Files.createDirectories(showDir);
        }
        try (org.leanseg.export.OrtModel ort = org.leanseg.export.OrtModel.open(opts.checkpoint)) {
            normalization = org.leanseg.data.Normalization.fromJson(ort.metadata().get("normalization"));
            System.out.println("engine: onnxruntime, " + opts.checkpoint + "; colours: " + palette.source());
            for (Path image : images) {
                predictOne(ort::segment, image, palette);
            }
        }
        System.out.println("wrote " + images.size() + " masks to " + out + (showDir != null ? " and overlays to " + showDir : ""));
        return 0;
    }

    private List<Path> inputs() throws IOException {
        if (Files.isRegularFile(input)) {
            return List.of(input);
        }
        if (!Files.isDirectory(input)) {
            throw new IOException(input + ": no such file or folder; give an image file or a folder of images");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(input)) {
            files = s.filter(Files::isRegularFile).filter(p -> EXTENSIONS.stream()
                    .anyMatch(e -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(e))).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new IOException(input + ": no images (" + String.join(", ", EXTENSIONS) + ") in this folder");
        }
        return files;
    }

    private void predictOne(java.util.function.Function<org.leanseg.tensor.Tensor, float[]> segmenter, Path file, Palette palette)
            throws IOException {
        RgbImage im = ImageFiles.readImage(file);
        int h = im.height();
        int w = im.width();
        int[] none = new int[h * w];
        Arrays.fill(none, LabelMap.IGNORE);
        var sample = Augment.whole(im, new LabelMap(h, w, none), normalization.mean(), normalization.std(), file.toString());
        float[] pred = segmenter.apply(sample.image());
        int[] labels = new int[h * w];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (int) pred[i];
        }
        String name = EvalCommand.stem(file) + ".png";
        ImageFiles.writeIndexPng(out.resolve(name), new LabelMap(h, w, labels), palette);
        if (showDir != null) {
            writeOverlay(showDir.resolve(name), im, labels, palette);
        }
    }

    private void writeOverlay(Path target, RgbImage im, int[] labels, Palette palette) throws IOException {
        int h = im.height();
        int w = im.width();
        BufferedImage o = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        float[] chw = im.chw();
        int plane = h * w;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                int colour = palette.colour(labels[p]);
                if (colour < 0) {
                    // an index without a palette colour: leave the image as it is
                    o.setRGB(x, y, (clamp(chw[p]) << 16) | (clamp(chw[plane + p]) << 8) | clamp(chw[2 * plane + p]));
                    continue;
                }
                int r = blend(chw[p], (colour >> 16) & 0xff);
                int g = blend(chw[plane + p], (colour >> 8) & 0xff);
                int b = blend(chw[2 * plane + p], colour & 0xff);
                o.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        AtomicFiles.write(target, os -> {
            if (!ImageIO.write(o, "png", os)) {
                throw new IOException("no PNG writer in this JVM");
            }
        });
    }

    private int blend(float image, int colour) {
        return clamp((float) ((1 - opacity) * image + opacity * colour));
    }

    private static int clamp(float v) {
        return Math.max(0, Math.min(255, Math.round(v)));
    }
}
