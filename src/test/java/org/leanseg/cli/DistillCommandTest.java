package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.train.Trainer;

/**
 * Distillation from the command line (Note [Distillation loss]): {@code train} with
 * {@code train.distill} trains a student against a teacher checkpoint and saves only the student;
 * {@code plan --teacher} shows the teacher as its own stage; a bad teacher is one line and exit 2.
 * Check: {@code mvn -B -q test -Dtest=DistillCommandTest}.
 */
class DistillCommandTest {
    @TempDir
    static Path dir;
    private static Path teacher;

    private static final List<String> SMALL = List.of("model.aspp_channels=16", "model.low_level_channels=8",
            "model.decoder_channels=16", "data.synthetic.image_size=32", "data.synthetic.train_size=40", "data.synthetic.val_size=4",
            "train.batch=2", "train.warmup_iters=1", "train.log_interval=1", "train.eval_interval=0", "device=reference");

    private static List<String> sets(String name, String... extra) {
        List<String> s = new ArrayList<>(SMALL);
        s.add("work_dir=" + dir);
        s.add("name=" + name);
        s.addAll(List.of(extra));
        return s;
    }

    /** A width-0.5 teacher, trained two steps. */
    @BeforeAll
    static void trainTeacher() throws IOException {
        new Trainer(TrainingConfig.load(null, sets("teacher", "model.width=0.5", "train.iters=2")), new PrintStream(new ByteArrayOutputStream()),
                false).run(null, null, false);
        teacher = dir.resolve("teacher").resolve("iter_000002.safetensors");
        assertTrue(Files.isRegularFile(teacher));
    }

    private static CliTest.Run run(String... args) {
        return CliTest.run(args);
    }

    private static String[] train(String name, String... extra) {
        List<String> args = new ArrayList<>(List.of("train"));
        for (String s : sets(name, extra)) {
            args.add("--set");
            args.add(s);
        }
        return args.toArray(new String[0]);
    }

    @Test
    void trainDistilsAndSavesOnlyTheStudent() throws IOException {
        for (String kind : new String[] {"pixel", "channel"}) {
            CliTest.Run r = run(train("student_" + kind, "model.width=0.25", "train.iters=2", "train.distill.teacher=" + teacher,
                    "train.distill.temperature=2", "train.distill.kind=" + kind));
            assertEquals(0, r.code(), r.err());
            String log = Files.readString(dir.resolve("student_" + kind).resolve("log.txt"));
            assertTrue(log.contains("distilling from " + teacher) && log.contains(kind + "-wise KL at temperature 2.0"), log);
            try (SafetensorsFile student = SafetensorsFile.open(dir.resolve("student_" + kind).resolve("iter_000002.safetensors"));
                 SafetensorsFile t = SafetensorsFile.open(teacher)) {
                assertEquals(t.keys().size(), student.keys().size(), "the student's own tensors, no teacher's");
                assertFalse(student.metadata().get("model_config").equals(t.metadata().get("model_config")));
            }
        }
    }

    @Test
    void badTeachersAreOneLineNamingTheKey() {
        CliTest.Run missing = run(train("bad1", "model.width=0.25", "train.iters=1", "train.distill.teacher=" + dir.resolve("nope.safetensors")));
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("leanseg train: train.distill.teacher: ") && missing.err().contains("not found")
                && missing.err().strip().lines().count() == 1, missing.err());
        assertFalse(Files.exists(dir.resolve("bad1")), "no run directory for a run that cannot start");
        CliTest.Run classes = run(train("bad2", "model.width=0.25", "data.num_classes=4", "train.iters=1", "train.distill.teacher=" + teacher));
        assertEquals(2, classes.code());
        assertTrue(classes.err().contains("train.distill.teacher: ") && classes.err().contains("has 6 classes but the student 4"),
                classes.err());
        CliTest.Run plan = run("plan", "--size", "32x32", "--width", "0.25", "--classes", "6", "--teacher", dir.resolve("nope.safetensors").toString());
        assertEquals(2, plan.code());
        assertTrue(plan.err().startsWith("leanseg plan: --teacher ") && plan.err().strip().lines().count() == 1, plan.err());
    }

    @Test
    void planShowsTheTeacherAsItsOwnStage() throws IOException {
        String[] base = {"plan", "--batch", "2", "--size", "32x32", "--width", "0.25", "--classes", "6", "--aspp-channels", "16",
            "--low-level-channels", "8", "--decoder-channels", "16", "--device", "reference", "--json"};
        ObjectMapper m = new ObjectMapper();
        JsonNode plain = m.readTree(run(base).out());
        List<String> withTeacher = new ArrayList<>(List.of(base));
        withTeacher.addAll(List.of("--teacher", teacher.toString(), "--distill-kind", "channel"));
        CliTest.Run r = run(withTeacher.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        JsonNode distilled = m.readTree(r.out());
        boolean found = false;
        for (JsonNode s : distilled.get("stages")) {
            found |= s.get("name").asText().equals("teacher") && s.get("forwardFlops").asLong() > 0;
        }
        assertTrue(found, distilled.get("stages").toString());
        assertTrue(distilled.get("plannedPeakBytes").asLong() > plain.get("plannedPeakBytes").asLong());
        String table = run(withTeacher.subList(0, withTeacher.size()).stream().filter(a -> !a.equals("--json")).toArray(String[]::new)).out();
        assertTrue(table.contains("teacher"), table);
    }
}
