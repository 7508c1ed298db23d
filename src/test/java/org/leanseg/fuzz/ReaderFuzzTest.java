package org.leanseg.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.DatasetException;
import org.leanseg.data.ImageFiles;
import org.leanseg.data.LabelMap;
import org.leanseg.data.Palette;
import org.leanseg.data.labelme.LabelmeFile;
import org.leanseg.data.labelme.ShapeRaster;
import org.leanseg.io.SafetensorsException;
import org.leanseg.io.SafetensorsFile;

/**
 * Issue 12 item 10: fuzz targets for every reader of a user's file: safetensors (header and
 * body), YAML configs, PNG/JPEG masks and labelme JSON. Each input must either be read or be
 * refused with the reader's own clear error (SafetensorsException, ConfigException,
 * DatasetException); anything else (another exception, a hang, an out-of-memory) is a finding.
 *
 * <p>{@code mvn -B test} replays the corpus in
 * {@code src/test/resources/org/leanseg/fuzz/ReaderFuzzTestInputs/<target>/} (seeds and every
 * finding, milliseconds). To fuzz one target for its {@code maxDuration}, as CI's fuzz job does:
 * {@code JAZZER_FUZZ=1 mvn -B -q test -Dtest=ReaderFuzzTest#safetensors}; new findings land in
 * that folder and are kept there as regression inputs.
 */
class ReaderFuzzTest {
    private static Path scratch(String suffix, byte[] data) throws IOException {
        Path p = Files.createTempFile("leanseg-fuzz", suffix);
        Files.write(p, data);
        return p;
    }

    @FuzzTest(maxDuration = "5s")
    void safetensors(byte[] data) throws IOException {
        Path p = scratch(".safetensors", data);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            f.verify();
            for (String key : f.keys()) {
                f.tensor(key);
            }
        } catch (SafetensorsException expected) {
            // refused with a message naming the file
        } finally {
            Files.deleteIfExists(p);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void yamlConfig(byte[] data) {
        try {
            TrainingConfig.parse(new String(data, StandardCharsets.UTF_8), "fuzz.yaml", List.of());
        } catch (ConfigException expected) {
            // refused naming the key or the line
        }
    }

    @FuzzTest(maxDuration = "5s")
    void mask(byte[] data) throws IOException {
        Path p = scratch(".png", data);
        try {
            LabelMap m = ImageFiles.readMask(p, Palette.voc());
            if (m.labels().length != m.height() * m.width()) {
                throw new IllegalStateException("mask of " + m.height() + "x" + m.width() + " has " + m.labels().length + " labels");
            }
        } catch (DatasetException expected) {
            // refused naming the file
        } finally {
            Files.deleteIfExists(p);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void labelme(byte[] data) throws IOException {
        Path p = scratch(".json", data);
        try {
            LabelmeFile f = LabelmeFile.parse(p);
            int h = 16;
            int w = 16;
            int[] mask = new int[h * w];
            for (LabelmeFile.Shape s : f.shapes()) {
                ShapeRaster.LABELME.paint(mask, h, w, s, 1);
            }
        } catch (DatasetException expected) {
            // refused naming the file
        } finally {
            Files.deleteIfExists(p);
        }
    }
}
