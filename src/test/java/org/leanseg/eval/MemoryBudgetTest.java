package org.leanseg.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.data.Dataset;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/** A whole image whose plan is over the memory budget is evaluated in slide mode, said once; the cache stays bounded. */
class MemoryBudgetTest {
    private final VariableStore store = new VariableStore();
    private final DeepLabV3Plus model = model(store);
    private final List<String> log = new ArrayList<>();

    private static DeepLabV3Plus model(VariableStore store) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        m.params().initialize(store, 5);
        return m;
    }

    private InferenceGraphs.Planned planned(int h, int w) {
        try (InferenceGraphs g = new InferenceGraphs(model, new ReferenceBackend(), store, 0)) {
            return g.planned(Shape.of(1, 3, h, w), true);
        }
    }

    private long peak(int h, int w) {
        return planned(h, w).peakBytes();
    }

    @Test
    void overBudgetImagesSlideAndMatchExplicitSlideMode() {
        Dataset data = SlideInferenceTest.randomData(5, new int[][] {{40, 36}, {40, 36}, {12, 10}}, 9);
        long budget = (peak(16, 16) + peak(40, 36)) / 2; // a 16x16 window fits, a 40x36 image does not
        assertTrue(peak(12, 10) <= budget && peak(16, 16) < peak(40, 36));
        MemoryBudget b = MemoryBudget.of(budget, "eval.memory_budget", 16, 16, log::add);
        assertEquals(Inference.slide(16, 16, 10, 10, false), b.fallback(false));
        try (Evaluator guarded = new Evaluator(model, new ReferenceBackend(), store, 2, Inference.whole(false), b);
             Evaluator slide = new Evaluator(model, new ReferenceBackend(), store, 1, b.fallback(false));
             Evaluator whole = new Evaluator(model, new ReferenceBackend(), store, 2)) {
            Tensor big = data.get(0, null).image();
            Tensor small = data.get(2, null).image();
            assertArrayEquals(slide.segment(big), guarded.segment(big), "over budget: slide mode");
            assertArrayEquals(whole.segment(small), guarded.segment(small), "within budget: whole image");
            ConfusionMatrix g = guarded.evaluate(data, null);
            ConfusionMatrix expected = new ConfusionMatrix(5, 255);
            for (int i = 0; i < data.size(); i++) {
                Dataset.Sample s = data.get(i, null);
                expected.add(s.label().data(), i < 2 ? slide.segment(s.image()) : whole.segment(s.image()));
            }
            assertEquals(expected.meanIoU(), g.meanIoU(), 0.0);
            assertEquals(expected.pixelAccuracy(), g.pixelAccuracy(), 0.0);
            // big, small, then the two big ones of the batch one by one and the small one whole
            assertEquals("whole for 2 image passes, slide 16x16 stride 10x10 for 3 over the memory budget of "
                    + MemoryBudget.mib(budget) + ": eval.memory_budget", guarded.used());
            assertEquals("slide 16x16 stride 10x10", slide.used());
            assertEquals("whole", whole.used());
        }
        assertEquals(1, log.size(), log.toString());
        assertTrue(log.get(0).contains("of a 40x36 (HxW) image plans"), log.get(0));
        assertTrue(log.get(0).contains("over the memory budget") && log.get(0).contains("(eval.memory_budget)")
                && log.get(0).contains("slide mode, 16x16 windows, stride 10x10"), log.get(0));
    }

    @Test
    void withoutEvalMemoryBudgetTheBudgetIsWhatTheBackendHasFree() {
        try (ReferenceBackend ref = new ReferenceBackend()) {
            MemoryBudget free = MemoryBudget.forInference(null, ref, 32, 32, log::add);
            // reference arenas are Java arrays: the heap's headroom, not the training step's peak
            assertTrue(free.source().startsWith("free Java heap"), free.source());
            assertTrue(free.bytes() > 0 && free.bytes() <= Runtime.getRuntime().maxMemory(), free.toString());
            MemoryBudget set = MemoryBudget.forInference(4096L, ref, 32, 32, log::add);
            assertEquals(4096L, set.bytes());
            assertEquals("eval.memory_budget", set.source());
        }
        org.leanseg.backend.FreeMemory host = org.leanseg.backend.FreeMemory.host();
        assertTrue(host.bytes() > 0, host.toString());
        assertTrue(host.source().startsWith("free"), host.source());
        // with a budget, the largest whole plan is named
        Tensor img = SlideInferenceTest.randomData(5, new int[][] {{20, 20}}, 4).get(0, null).image();
        try (Evaluator ev = new Evaluator(model, new ReferenceBackend(), store, 1, Inference.whole(false),
                MemoryBudget.of(1L << 40, "test budget", 16, 16, log::add))) {
            ev.segment(img);
            assertEquals("whole (largest plan " + MemoryBudget.mib(peak(20, 20)) + ", within the memory budget of 1024.00 GiB: "
                    + "test budget)", ev.used());
        }
    }

    @Test
    void flipAndScalesKeepTheirMeaningUnderTheBudget() {
        Tensor img = SlideInferenceTest.randomData(5, new int[][] {{40, 36}}, 4).get(0, null).image();
        MemoryBudget b = MemoryBudget.of(1, "a one-byte test budget", 16, 16, log::add);
        Inference ms = Inference.whole(true).withScales(List.of(0.5, 1.0));
        try (Evaluator guarded = new Evaluator(model, new ReferenceBackend(), store, 1, ms, b);
             Evaluator slide = new Evaluator(model, new ReferenceBackend(), store, 1, b.fallback(true).withScales(ms.scales()))) {
            assertArrayEquals(slide.logits(img), guarded.logits(img));
        }
        assertEquals(1, log.size(), log.toString());
    }

    @Test
    void cacheStaysBoundedOverManySizes() {
        int[][] sizes = new int[12][];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = new int[] {24 + i, 24};
        }
        Dataset data = SlideInferenceTest.randomData(5, sizes, 2);
        try (Evaluator ev = new Evaluator(model, new ReferenceBackend(), store, 1)) {
            ev.evaluate(data, null);
            assertEquals(InferenceGraphs.MAX_CACHED, ev.cachedGraphs());
        }
        InferenceGraphs.Planned p = planned(35, 24); // the largest image; every other arena is over half of its
        assertTrue(planned(24, 24).arenaBytes() > p.arenaBytes() / 2);
        long budget = p.peakBytes() + p.arenaBytes() / 2; // room for one arena beside the weights, not two
        try (Evaluator ev = new Evaluator(model, new ReferenceBackend(), store, 1, Inference.whole(false),
                MemoryBudget.of(budget, "test", 16, 16, log::add))) {
            ev.evaluate(data, null);
            assertEquals(1, ev.cachedGraphs());
        }
        assertTrue(log.isEmpty(), log.toString());
    }
}
