package org.leanseg.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * mIoU arithmetic against values worked out by hand (mmsegmentation's definitions): ignored
 * pixels count nowhere, a class absent from both truth and prediction is NaN and left out of the
 * mean (nanmean), a class only predicted has IoU 0 and no accuracy, aAcc is correct / all counted.
 */
class ConfusionMatrixTest {
    private static final double EPS = 1e-12;

    private static float[] f(int... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    @Test
    void handComputedFourClassesWithIgnoreAndAnAbsentClass() {
        ConfusionMatrix cm = new ConfusionMatrix(4, 255);
        // pixel 5 is ignored (truth 255) although predicted 2; class 3 appears nowhere
        cm.add(f(0, 0, 1, 1, 2, 255, 0, 2), f(0, 1, 1, 1, 0, 2, 0, 2));
        // counted (truth, pred): (0,0) x2, (0,1), (1,1) x2, (2,0), (2,2)
        assertEquals(2, cm.count(0, 0));
        assertEquals(0, cm.count(2, 2) - 1);
        double[] iou = cm.iou();
        assertEquals(2.0 / 4, iou[0], EPS);     // tp 2, fp 1 (2->0), fn 1 (0->1)
        assertEquals(2.0 / 3, iou[1], EPS);     // tp 2, fp 1 (0->1), fn 0
        assertEquals(1.0 / 2, iou[2], EPS);     // tp 1, fp 0, fn 1 (2->0)
        assertTrue(Double.isNaN(iou[3]), "absent from truth and prediction");
        assertEquals((0.5 + 2.0 / 3 + 0.5) / 3, cm.meanIoU(), EPS, "nanmean over the three present classes");
        double[] acc = cm.accuracy();
        assertEquals(2.0 / 3, acc[0], EPS);
        assertEquals(1.0, acc[1], EPS);
        assertEquals(0.5, acc[2], EPS);
        assertTrue(Double.isNaN(acc[3]));
        assertEquals((2.0 / 3 + 1 + 0.5) / 3, cm.meanAccuracy(), EPS);
        assertEquals(5.0 / 7, cm.pixelAccuracy(), EPS, "5 correct of 7 counted pixels; the ignored one is not counted");
    }

    @Test
    void aClassOnlyPredictedHasIouZeroAndNoAccuracyAndMergeAdds() {
        ConfusionMatrix a = new ConfusionMatrix(3, 255);
        a.add(f(0, 0, 1), f(0, 2, 1));
        ConfusionMatrix b = new ConfusionMatrix(3, 255);
        b.add(f(1, 255), f(1, 0));
        a.merge(b);
        double[] iou = a.iou();
        assertEquals(1.0 / 2, iou[0], EPS);     // tp 1, fn 1 (0->2)
        assertEquals(1.0, iou[1], EPS);         // tp 2
        assertEquals(0.0, iou[2], EPS);         // predicted once, never true: 0 / (0 + 1 + 0)
        assertTrue(Double.isNaN(a.accuracy()[2]), "no true pixel of class 2");
        assertEquals((0.5 + 1 + 0) / 3, a.meanIoU(), EPS, "an only-predicted class counts in the mean");
        assertEquals(3.0 / 4, a.pixelAccuracy(), EPS);
    }
}
