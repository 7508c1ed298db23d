package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.ConfigException;
import org.leanseg.config.TrainingConfig;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.nn.ParamSet;
import org.leanseg.ops.Device;
import org.leanseg.ops.optim.LossScaled;
import org.leanseg.profile.StepPlan;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * Note [Mixed precision]: the 16-bit step's types, its plan, and one training step in bf16 and
 * fp16 (emulated on the reference backend) against fp32 within measured tolerances.
 */
class MixedPrecisionTest {
    static final int SIZE = 64;
    static final int BATCH = 8;
    /** SGD without weight decay: the first update is -lr * grad, so updates compare gradients. */
    static final OptimizerSettings SGD = new OptimizerSettings(0.9, false, 0, false, 1.0, null);

    @Test
    void activationsAndTheirGradientsAre16BitAndTheRestF32() {
        Step s = StepBuilder.training(new DeepLabV3Plus(ModelTest.tiny()), 2, SIZE, SIZE).precision(Precision.BF16).build();
        assertEquals(DType.BF16, s.train().image().spec().dtype());
        assertEquals(DType.F32, s.train().loss().spec().dtype(), "the loss is f32");
        int half = 0;
        for (Node n : s.schedule()) {
            for (Value v : n.outputs()) {
                boolean batchData = v.spec().shape().rank() == 4 && v.spec().shape().dim(0) == 2 && v.producer().phase() != org.leanseg.graph.Phase.OPTIMIZER;
                if (batchData && !n.op().name().startsWith("conv2d_backward_filter") && !n.op().name().contains("depthwise_conv2d_backward_filter")) {
                    assertEquals(DType.BF16, v.spec().dtype(), n.op().name() + " at " + n.stage() + " stores " + v.spec());
                    half++;
                }
                if (v.spec().shape().rank() == 1) {
                    assertEquals(DType.F32, v.spec().dtype(), "vectors (BN statistics, parameter gradients, the loss) stay f32: " + n);
                }
            }
            if (n.op() instanceof org.leanseg.ops.optim.Sgd) {
                assertEquals(DType.F32, n.input(1).spec().dtype(), "parameter gradients are f32: " + n);
            }
        }
        assertTrue(half > 100, half + " 16-bit activations");
    }

    /** The planner sizes 16-bit values at 2 bytes, so the activation peak drops (labels, statistics, parameter gradients stay 4 bytes). */
    @Test
    void bf16PlansAboutHalfTheActivations() {
        StepPlan fp32 = StepPlan.of(ModelTest.tiny(), 2, SIZE, SIZE, StepPasses.FUSED, SGD, 1, Device.REFERENCE, Precision.FP32);
        StepPlan bf16 = StepPlan.of(ModelTest.tiny(), 2, SIZE, SIZE, StepPasses.FUSED, SGD, 1, Device.REFERENCE, Precision.BF16);
        assertEquals(fp32.schedule().size(), bf16.schedule().size(), "the same step, other types");
        // the same nodes, though not always in the same order: Note [Late gradients] weighs bytes, which
        // differ where a 16-bit gradient meets an f32 one (the fp32 loss); matched by op, stage and shapes
        List<Value> a = outputsByNode(fp32.schedule());
        List<Value> b = outputsByNode(bf16.schedule());
        int halved = 0;
        for (int k = 0; k < a.size(); k++) {
            if (b.get(k).spec().dtype() == DType.BF16) {
                assertEquals(a.get(k).bytes(), 2 * b.get(k).bytes(), b.get(k).toString());
                halved++;
            }
        }
        assertTrue(halved > 100, halved + " values halved");
        // the tiny model's peak also holds its f32 parameter gradients and i32 labels; MobileNetV2 at 512x512: docs/benchmarks.md
        double ratio = (double) bf16.report().activationPeakBytes() / fp32.report().activationPeakBytes();
        assertTrue(ratio > 0.45 && ratio < 0.75, "bf16/fp32 activation peak " + ratio);
        assertEquals(fp32.report().persistentBytes(), bf16.report().persistentBytes(), "weights, gradients and optimizer state stay f32");
    }

    /** Every node's outputs, nodes sorted by op name, stage and output shapes (stable: graph order among equals). */
    private static List<Value> outputsByNode(List<org.leanseg.graph.Node> schedule) {
        List<org.leanseg.graph.Node> nodes = new java.util.ArrayList<>(schedule);
        nodes.sort(java.util.Comparator.comparing(n -> n.op().name() + "|" + n.stage() + "|"
                + n.outputs().stream().map(v -> v.spec().shape().toString()).toList()));
        List<Value> out = new java.util.ArrayList<>();
        nodes.forEach(n -> out.addAll(n.outputs()));
        return out;
    }

    record Run(float loss, Map<String, float[]> updates) {
    }

    /** One SGD step of the tiny model from seed 5 on fixed random data; each parameter's update. */
    /**
     * One fp16 step on {@code backend} (closed after) against the reference's fp16 emulation: the losses within 1e-3
     * relative, the updates finite (Note [Mixed-precision tolerances]: too ill-conditioned here to compare them).
     */
    static void checkFp16Loss(String device, Backend backend) {
        Run ref = step(Precision.FP16, new org.leanseg.backend.reference.ReferenceBackend());
        Run got;
        try (backend) {
            got = step(Precision.FP16, backend);
        }
        double loss = Math.abs(got.loss() - ref.loss()) / ref.loss();
        double update = relativeError(got.updates(), ref.updates());
        String measured = String.format("%s fp16 vs reference fp16: loss %.3g, update %.3g", device, loss, update);
        System.out.println(measured);
        org.junit.jupiter.api.Assertions.assertTrue(Float.isFinite(got.loss()) && loss < 1e-3 && Double.isFinite(update), measured);
    }

    static Run step(Precision precision, Backend backend) {
        return step(precision, backend, null);
    }

    /** As above; {@code inputRounding} (or null) rounds the image first, as the only 16-bit store of an fp32 step. */
    static Run step(Precision precision, Backend backend, DType inputRounding) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 5);
        Map<String, float[]> before = new LinkedHashMap<>();
        for (var p : m.params().parameters()) {
            before.put(p.name(), store.get(p).data().clone());
        }
        Random rnd = new Random(1);
        Tensor x = Tensor.gaussian(Shape.of(BATCH, 3, SIZE, SIZE), 1, rnd);
        int[] l = new int[BATCH * SIZE * SIZE];
        if (inputRounding != null) {
            for (int i = 0; i < x.data().length; i++) {
                x.data()[i] = inputRounding.round(x.data()[i]);
            }
        }
        int plane = SIZE * SIZE;
        for (int i = 0; i < l.length; i++) { // a learnable label (from the signs of channels 0 and 1): a coherent gradient
            int n = i / plane;
            int p = i % plane;
            l[i] = (x.data()[(n * 3) * plane + p] > 0 ? 1 : 0) + (x.data()[(n * 3 + 1) * plane + p] > 0 ? 2 : 0);
        }
        float loss;
        List<String> log = new ArrayList<>();
        try (StepRunner r = new StepRunner(m, BATCH, SIZE, SIZE, SGD, 1, backend, store, StepPasses.forBackend(backend.name()), null,
                precision, log::add)) {
            loss = r.micro(x, Tensor.labels(Shape.of(BATCH, SIZE, SIZE), l), 0.1f, 1);
            r.syncVariables();
        }
        Map<String, float[]> updates = new LinkedHashMap<>();
        for (var p : m.params().parameters()) {
            float[] a = store.get(p).data();
            float[] b = before.get(p.name());
            float[] d = new float[a.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = a[i] - b[i];
            }
            updates.put(p.name(), d);
        }
        return new Run(loss, updates);
    }

    /** ||a - b|| / ||b|| over all parameters' updates. */
    static double relativeError(Map<String, float[]> a, Map<String, float[]> b) {
        double num = 0;
        double den = 0;
        for (String k : b.keySet()) {
            for (int i = 0; i < b.get(k).length; i++) {
                double d = a.get(k)[i] - b.get(k)[i];
                num += d * d;
                den += (double) b.get(k)[i] * b.get(k)[i];
            }
        }
        return Math.sqrt(num / den);
    }

    /**
     * Note [Mixed-precision tolerances]: one SGD step of the tiny model (batch 8, 64x64, labels from the
     * image), 16-bit against fp32. At initialisation this step is ill-conditioned: its update is a small
     * sum of large cancelling terms through batch norms over few values, so rounding only the input
     * image to bf16 (an fp32 step otherwise) already moves the update by 75% (to fp16: 22%). The
     * yardstick is therefore that baseline, measured in the same test: storing every activation and
     * gradient in 16 bits moved it 1.5x (bf16: 115%) and 2.3x (fp16: 50%) as much (2026-12-07), so
     * the bound is 4x; a store that is not rounded, or rounded wrongly, changes the ratio by far more
     * than that headroom in one direction or the other (no rounding at all gives exactly 0: checked).
     * The loss moved 0.24% (bf16) and 0.015% (fp16); bounds 1% and 0.1%.
     */
    @Test
    void bf16AndFp16StepsMatchFp32WithinTheirRounding() {
        Run fp32 = step(Precision.FP32, new ReferenceBackend());
        String measured = "";
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16}) {
            Run half = step(p, new ReferenceBackend());
            Run inputOnly = step(Precision.FP32, new ReferenceBackend(), p.activations());
            double loss = Math.abs(half.loss() - fp32.loss()) / fp32.loss();
            double update = relativeError(half.updates(), fp32.updates());
            double baseline = relativeError(inputOnly.updates(), fp32.updates());
            measured += String.format("%s: loss %.4f%%, update %.1f%%, input-rounding baseline %.1f%% (ratio %.2f); ", p, 100 * loss,
                    100 * update, 100 * baseline, update / baseline);
            assertTrue(update > 0 && update < 4 * baseline, measured);
            assertTrue(loss < (p == Precision.BF16 ? 0.01 : 0.001), measured);
        }
        System.out.println("mixed precision vs fp32: " + measured);
    }

    @Test
    void precisionIsAValidatedConfigKey() {
        assertEquals(Precision.BF16, TrainingConfig.load(null, List.of("train.precision=bf16")).train().precision());
        assertEquals(Precision.FP32, TrainingConfig.load(null, List.of()).train().precision());
        ConfigException e = assertThrows(ConfigException.class, () -> TrainingConfig.load(null, List.of("train.precision=fp8")));
        assertTrue(e.getMessage().contains("train.precision") && e.getMessage().contains("fp32, bf16, fp16"), e.getMessage());
    }

    @Test
    void lossScaledUpdatesWrapEveryOptimizerStepOfAnFp16Step() {
        Step s = StepBuilder.training(new DeepLabV3Plus(ModelTest.tiny()), 2, 32, 32).precision(Precision.FP16).build();
        List<Node> schedule = s.schedule();
        int check = -1;
        int updates = 0;
        for (int i = 0; i < schedule.size(); i++) {
            String name = schedule.get(i).op().name();
            assertTrue(!name.equals("sgd"), "an unwrapped update at " + i);
            if (name.equals("loss_scale_update")) {
                check = i;
                assertEquals(1 + new DeepLabV3Plus(ModelTest.tiny()).params().parameters().size(), schedule.get(i).inputs().size(),
                        "the check reads the state and every parameter gradient");
            }
            if (schedule.get(i).op() instanceof LossScaled) {
                assertTrue(check >= 0 && check < i, "updates run after the inf/NaN check");
                updates++;
            }
        }
        assertEquals(new DeepLabV3Plus(ModelTest.tiny()).params().parameters().size(), updates);
        for (ParamSet.Entry e : new DeepLabV3Plus(ModelTest.tiny()).params().entries()) {
            assertTrue(!e.variable().name().startsWith("loss_scale"), "the loss-scaling state is no model tensor");
        }
    }
}
