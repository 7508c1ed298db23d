package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.ConfigException;

/**
 * {@code train.class_weights} reaches the loss: equal weights change nothing (the loss is the mean
 * over weights, as PyTorch's), unequal ones change the first loss; a wrong count names the key.
 * Run: {@code mvn -B -q test -Dtest=ClassWeightsTest}.
 */
class ClassWeightsTest {
    private static float firstLoss(Path dir, String name, String... extra) throws java.io.IOException {
        String[] sets = new String[extra.length + 2];
        sets[0] = "train.iters=1";
        sets[1] = "train.warmup_iters=0";
        System.arraycopy(extra, 0, sets, 2, extra.length);
        return new Trainer(ResumeTest.small(dir, name, sets), ResumeTest.quiet(), false).run(null, null, false).losses().get(0);
    }

    @Test
    void weightsReachTheLoss(@TempDir Path dir) throws java.io.IOException {
        float plain = firstLoss(dir, "plain");
        float equal = firstLoss(dir, "equal", "train.class_weights=[2, 2, 2, 2, 2, 2]");
        float skewed = firstLoss(dir, "skewed", "train.class_weights=[0.1, 1, 1, 3, 1, 1]");
        assertEquals(plain, equal, 1e-6 * Math.abs(plain), "equal weights: the weighted mean is the plain mean");
        assertNotEquals(plain, skewed, "unequal weights change the loss");
    }

    @Test
    void aWeightPerClassOrAnErrorNamingTheKey(@TempDir Path dir) {
        String message = assertThrows(ConfigException.class,
                () -> ResumeTest.small(dir, "x", "train.class_weights=[1, 2]")).getMessage();
        assertTrue(message.startsWith("train.class_weights: 2 weights") && message.contains("model.num_classes is 6"), message);
        message = assertThrows(ConfigException.class,
                () -> ResumeTest.small(dir, "x", "train.class_weights=[1, -2, 1, 1, 1, 1]")).getMessage();
        assertTrue(message.contains("train.class_weights") && message.contains(">= 0"), message);
    }
}
