package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.SyntheticShapes;
import org.leanseg.export.OrtModel;
import org.leanseg.train.Trainer;

/**
 * {@code export}, {@code quantize} and the onnxruntime engine of {@code eval}, {@code predict}
 * and {@code benchmark} end to end on a checkpoint from a 2-iteration training run, and their
 * one-line errors. Check: {@code mvn -B -q test -Dtest=ExportCommandTest}.
 */
class ExportCommandTest {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    @TempDir
    static Path dir;
    static Path checkpoint;

    private record Run(int code, String out, String err) {
    }

    @BeforeAll
    static void train() throws IOException {
        List<String> sets = new ArrayList<>(EvalPredictCommandTest.SETS);
        sets.addAll(List.of("work_dir=" + dir, "name=run"));
        new Trainer(TrainingConfig.load(null, sets), new PrintStream(new ByteArrayOutputStream()), false).run(null, null, false);
        checkpoint = dir.resolve("run").resolve("iter_000002.safetensors");
    }

    @Test
    void exportQuantizeAndPredictWithBothEngines() throws IOException {
        Path fp32 = dir.resolve("model.onnx");
        Run e = run("export", "--checkpoint", checkpoint.toString(), "--out", fp32.toString(), "--dynamic");
        assertEquals(0, e.code(), e.err());
        Map<String, String> meta;
        try (OrtModel m = OrtModel.open(fp32)) {
            meta = m.metadata();
        }
        assertEquals("[\"" + String.join("\",\"", SyntheticShapes.classNames()) + "\"]", meta.get("class_names"));
        assertTrue(meta.get("normalization").contains("std"), meta.toString());

        Path int8 = dir.resolve("model-int8.onnx");
        Run q = run("quantize", "--checkpoint", checkpoint.toString(), "--calibration", "2", "--method", "percentile",
                "--out", int8.toString());
        assertEquals(0, q.code(), q.err());
        assertTrue(Files.size(int8) > 0 && q.out().contains("percentile"), q.out());

        Path images = dir.resolve("images");
        Files.createDirectories(images);
        BufferedImage im = new BufferedImage(40, 48, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 40; x++) {
                im.setRGB(x, y, (x * 6 << 16) | (y * 5 << 8) | ((x + y) * 3 & 0xff));
            }
        }
        ImageIO.write(im, "png", images.resolve("a.png").toFile());
        Path ours = dir.resolve("masks-leanseg");
        Path ort = dir.resolve("masks-ort");
        assertEquals(0, run(sets("predict", "--checkpoint", checkpoint.toString(), "--input", images.toString(), "--out", ours.toString())).code());
        Run p = run(sets("predict", "--engine", "onnxruntime", "--checkpoint", fp32.toString(), "--input", images.toString(),
                "--out", ort.toString()));
        assertEquals(0, p.code(), p.err());
        BufferedImage a = ImageIO.read(ours.resolve("a.png").toFile());
        BufferedImage b = ImageIO.read(ort.resolve("a.png").toFile());
        int same = 0;
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 40; x++) {
                same += a.getRaster().getSample(x, y, 0) == b.getRaster().getSample(x, y, 0) ? 1 : 0;
            }
        }
        assertTrue(same >= 0.999 * 40 * 48, "the engines' masks agree on " + same + " of " + 40 * 48 + " pixels");

        // eval: the fp32 model in ONNX Runtime scores what LeanSeg scores on the same validation images
        Path ourEval = dir.resolve("leanseg.eval.json");
        Path ortEval = dir.resolve("ort.eval.json");
        assertEquals(0, run(sets("eval", "--checkpoint", checkpoint.toString(), "--out", ourEval.toString())).code());
        Run ev = run(sets("eval", "--engine", "onnxruntime", "--checkpoint", fp32.toString(), "--out", ortEval.toString()));
        assertEquals(0, ev.code(), ev.err());
        double ourMIoU = JSON.readTree(ourEval.toFile()).get("mIoU").asDouble();
        double ortMIoU = JSON.readTree(ortEval.toFile()).get("mIoU").asDouble();
        assertEquals(ourMIoU, ortMIoU, 1e-3, "mIoU LeanSeg vs ONNX Runtime");

        Run bench = run(sets("benchmark", "--engine", "onnxruntime", "--checkpoint", int8.toString(), "--images", "2", "--warmup", "1"));
        assertEquals(0, bench.code(), bench.err());
        assertTrue(bench.out().contains("ms/image"), bench.out());
    }

    @Test
    void badInputIsOneLineAndExitCode2() {
        Path out = dir.resolve("x.onnx");
        Run missing = run("export", "--checkpoint", dir.resolve("nope.safetensors").toString(), "--out", out.toString());
        assertOneLine(missing, "leanseg export: ", "checkpoint not found");
        assertOneLine(run("export", "--checkpoint", checkpoint.toString(), "--out", out.toString(), "--opset", "12"),
                "leanseg export: ", "--opset 12");
        assertOneLine(run("quantize", "--checkpoint", checkpoint.toString(), "--out", out.toString(), "--method", "kl"),
                "leanseg quantize: ", "--method kl");
        assertOneLine(run("predict", "--engine", "tvm", "--checkpoint", out.toString(), "--input", dir.toString(), "--out", dir.toString()),
                "leanseg predict: ", "--engine tvm");
        assertFalse(Files.exists(out));
    }

    private static void assertOneLine(Run r, String prefix, String says) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith(prefix) && r.err().contains(says) && r.err().strip().lines().count() == 1, r.err());
    }

    private static String[] sets(String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        for (String s : EvalPredictCommandTest.SETS) {
            a.add("--set");
            a.add(s);
        }
        return a.toArray(String[]::new);
    }

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out));
            System.setErr(new PrintStream(err));
            return new Run(Main.run(args), out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
