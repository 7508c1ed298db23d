package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;
import org.leanseg.train.Trainer;

/** {@code leanseg eval} and {@code leanseg predict} end to end on a checkpoint from a tiny training run. */
class EvalPredictCommandTest {
    static final List<String> SETS = List.of("model.width=0.25", "model.aspp_channels=16", "model.low_level_channels=8",
            "model.decoder_channels=16", "data.synthetic.image_size=32", "data.crop_size=32", "data.synthetic.train_size=8",
            "data.synthetic.val_size=3", "train.batch=2", "train.iters=2", "train.warmup_iters=1", "train.log_interval=1",
            "train.eval_interval=0", "train.checkpoint_interval=2", "train.keep_last=2", "device=cpu");

    @TempDir
    static Path dir;
    static Path checkpoint;

    @BeforeAll
    static void train() throws IOException {
        List<String> sets = new ArrayList<>(SETS);
        sets.addAll(List.of("work_dir=" + dir, "name=run"));
        new Trainer(TrainingConfig.load(null, sets), new PrintStream(new ByteArrayOutputStream()), false).run(null, null, false);
        checkpoint = dir.resolve("run").resolve("iter_000002.safetensors");
        assertTrue(Files.isRegularFile(checkpoint));
    }

    private static String[] args(String command, String... extra) {
        List<String> a = new ArrayList<>(List.of(command));
        for (String s : SETS) {
            a.add("--set");
            a.add(s);
        }
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void evalWritesMetricsAndSlideWithFullCoverCropMatchesWhole() throws IOException {
        Path whole = dir.resolve("whole.json");
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--out", whole.toString())));
        Path slide = dir.resolve("slide.json");
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--mode", "slide",
                "--set", "eval.crop_size=32", "--set", "eval.stride=16", "--out", slide.toString())));
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(whole.toFile());
        JsonNode b = json.readTree(slide.toFile());
        assertEquals("whole", a.get("mode").asText());
        assertEquals("slide", b.get("mode").asText());
        assertEquals(3, a.get("images").asInt());
        assertEquals(6, a.get("per_class").size());
        assertEquals(a.get("mIoU").asDouble(), b.get("mIoU").asDouble(), 0.0);
        assertEquals(a.get("aAcc").asDouble(), b.get("aAcc").asDouble(), 0.0);
        // default output beside the checkpoint, with flip; a second evaluation keeps the first's file
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString(), "--flip")));
        assertEquals(0, Main.run(args("eval", "--checkpoint", checkpoint.toString())));
        List<Path> kept;
        try (java.util.stream.Stream<Path> s = Files.list(checkpoint.getParent())) {
            kept = s.filter(p -> p.getFileName().toString().matches("iter_000002\\.eval\\..*\\.json")).sorted().toList();
        }
        assertEquals(2, kept.size(), kept.toString());
        java.util.Set<Boolean> flips = new java.util.HashSet<>();
        for (Path k : kept) {
            flips.add(json.readTree(k.toFile()).get("flip").asBoolean());
        }
        assertEquals(java.util.Set.of(true, false), flips, "the flipped evaluation's result is still there");
    }

    /** Issue 12 item 6: with no --config and no --set, eval uses the run's own config (its 3 validation images), and says so. */
    @Test
    void evalWithoutConfigUsesTheRunsOwn() throws IOException {
        Path result = dir.resolve("own.json");
        PrintStream stdout = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf));
        try {
            assertEquals(0, Main.run("eval", "--checkpoint", checkpoint.toString(), "--out", result.toString(), "--set", "device=cpu"));
        } finally {
            System.setOut(stdout);
        }
        assertEquals(3, new ObjectMapper().readTree(result.toFile()).get("images").asInt(), "data.synthetic.val_size of the run");
        assertTrue(buf.toString().contains("config: the run's own, from " + checkpoint), buf.toString());
    }

    @Test
    void evalOfMissingCheckpointFails() {
        assertEquals(2, Main.run(args("eval", "--checkpoint", dir.resolve("nope.safetensors").toString())));
    }

    @Test
    void predictWritesMasksAndOverlays(@TempDir Path tmp) throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in"));
        writePng(in.resolve("a.png"), 40, 30);
        writePng(in.resolve("b.png"), 20, 24);
        Files.writeString(in.resolve("notes.txt"), "not an image");
        Path out = tmp.resolve("masks");
        Path show = tmp.resolve("show");
        assertEquals(0, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input", in.toString(),
                "--out", out.toString(), "--show-dir", show.toString(), "--opacity", "0.6")));
        LabelMap m = ImageFiles.readMask(out.resolve("a.png"), null);
        assertEquals(30, m.height());
        assertEquals(40, m.width());
        for (int v : m.labels()) {
            assertTrue(v >= 0 && v < 6, "label " + v);
        }
        assertEquals(24, ImageFiles.readMask(out.resolve("b.png"), null).height());
        BufferedImage overlay = ImageIO.read(show.resolve("b.png").toFile());
        assertEquals(20, overlay.getWidth());
        // a single file, slide mode
        Path one = tmp.resolve("one");
        assertEquals(0, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input", in.resolve("a.png").toString(),
                "--out", one.toString(), "--mode", "slide", "--set", "eval.crop_size=16", "--set", "eval.stride=8")));
        assertTrue(Files.isRegularFile(one.resolve("a.png")));
    }

    @Test
    void predictErrorNamesTheFile(@TempDir Path tmp) throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.write(in.resolve("broken.png"), new byte[] {1, 2, 3, 4});
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf));
        try {
            assertEquals(2, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input", in.toString(),
                    "--out", tmp.resolve("o").toString())));
        } finally {
            System.setErr(err);
        }
        assertTrue(buf.toString().contains("broken.png"), buf.toString());
        assertEquals(2, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input", tmp.resolve("missing").toString(),
                "--out", tmp.resolve("o").toString())));
        // --out naming an existing file: one line saying so, not only the path
        writePng(in.resolve("ok.png"), 8, 8);
        Files.delete(in.resolve("broken.png"));
        Path taken = Files.writeString(tmp.resolve("taken"), "x");
        buf.reset();
        System.setErr(new PrintStream(buf));
        try {
            assertEquals(2, Main.run(args("predict", "--checkpoint", checkpoint.toString(), "--input", in.toString(), "--out", taken.toString())));
        } finally {
            System.setErr(err);
        }
        assertTrue(buf.toString().startsWith("leanseg predict: " + taken + ": exists and is not a directory"), buf.toString());
    }

    private static void writePng(Path file, int w, int h) throws IOException {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                im.setRGB(x, y, ((x * 6) << 16) | ((y * 8) << 8) | 128);
            }
        }
        ImageIO.write(im, "png", file.toFile());
    }

}
