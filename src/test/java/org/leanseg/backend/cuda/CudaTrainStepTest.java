package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * Full training steps of a tiny DeepLabV3+ MobileNetV2 (width 0.25, 5 classes, 2x3x64x64, BN in
 * training mode, CE with ignored pixels, SGD with momentum) on the GPU against the reference backend:
 * the losses, the logits of step 1, every variable (weights, BN statistics, momenta) after step 1
 * (gradient-level check) and after step 2 (median, and a loose max as the oracle's step3 checks),
 * and bitwise repeatability of the GPU run, within twice the reference's own spread under a 1e-6 weight
 * perturbation ({@link org.leanseg.testing.StepSpread}, Note [Training-step spread]). Float32 convolutions (no TF32). Once with the plain step
 * graph, once with the fused one (StepPasses.FUSED on both backends).
 * Run: {@code mvn -B test -Dgroups=gpu -Dtest=CudaTrainStepTest}.
 */
@Tag("gpu")
public class CudaTrainStepTest {
    private static final int N = 2;
    private static final int H = 64;
    private static final int W = 64;

    public record Run(float[] losses, Tensor logits, List<Map<String, Tensor>> variables) {
    }

    static Run train(Backend backend, int steps) {
        return train(backend, steps, StepPasses.NONE);
    }

    public static Run train(Backend backend, int steps, StepPasses passes) {
        return train(backend, steps, passes, 0);
    }

    /**
     * As {@link #train(Backend, int, StepPasses)} with every initial weight multiplied by (1 + u),
     * u uniform in [-perturbation, perturbation] (fixed seed): how much float-level differences in the
     * weights alone move the results (the conditioning of the test model, backend-independent).
     */
    public static Run train(Backend backend, int steps, StepPasses passes, double perturbation) {
        return train(backend, steps, passes, perturbation, org.leanseg.tensor.Precision.FP32);
    }

    /**
     * Note [Mixed precision]: one bf16 step of this model on two fresh backends from {@code backends} (closed after)
     * against the reference's emulation of the same step, within {@link org.leanseg.testing.StepSpread}'s tolerance
     * (twice the reference's spread under a 1e-6 weight perturbation) and bitwise repeatable; returns the first run.
     */
    public static Run checkBf16Step(String label, StepPasses passes, java.util.function.Supplier<Backend> backends) {
        org.leanseg.tensor.Precision bf16 = org.leanseg.tensor.Precision.BF16;
        Run ref = train(new org.leanseg.backend.reference.ReferenceBackend(), 1, passes, 0, bf16);
        Run perturbed = train(new org.leanseg.backend.reference.ReferenceBackend(), 1, passes, 1e-6, bf16);
        Run[] runs = new Run[2];
        for (int i = 0; i < 2; i++) {
            try (Backend b = backends.get()) {
                runs[i] = train(b, 1, passes, 0, bf16);
            }
        }
        org.leanseg.testing.StepSpread.check(label, ref, perturbed, runs[0], runs[1]);
        return runs[0];
    }

    /** As above in {@code precision} (Note [Mixed precision]): the image rounded to its 16-bit type as the step stores it. */
    public static Run train(Backend backend, int steps, StepPasses passes, double perturbation, org.leanseg.tensor.Precision precision) {
        DeepLabV3Plus model = new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
                .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(5));
        ParamSet ps = model.params();
        VariableStore store = new VariableStore();
        ps.initialize(store, 3);
        if (perturbation > 0) {
            Random noise = new Random(17);
            for (Tensor t : new java.util.TreeMap<>(store.byName()).values()) { // by name: the same noise per variable in every JVM
                float[] d = t.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] *= (float) (1 + perturbation * (2 * noise.nextDouble() - 1));
                }
            }
        }
        TrainGraph tg = new TrainGraph(model, N, H, W, OptimizerSettings.pytorchDefault(), 1, passes, null, precision, null);
        tg.stepGraph().markOutput(tg.logits());
        Random rnd = new Random(5);
        Tensor image = Tensor.gaussian(Shape.of(N, 3, H, W), 1, rnd);
        int[] labels = new int[N * H * W];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(12) == 0 ? 255 : (i / W % H) * 5 / H;
        }
        Tensor label = Tensor.labels(Shape.of(N, H, W), labels);
        float[] losses = new float[steps];
        Tensor logits = null;
        List<Map<String, Tensor>> vars = new ArrayList<>();
        try (Executor e = new Executor(tg.stepGraph(), backend, store)) {
            for (int s = 0; s < steps; s++) {
                e.run(Map.of(tg.image(), image, tg.label(), label, tg.lr(), Tensor.of(Shape.of(1), 0.05f)));
                losses[s] = e.read(tg.loss()).data()[0];
                if (s == 0) {
                    logits = e.read(tg.logits());
                }
                e.syncVariables();
                Map<String, Tensor> after = new java.util.TreeMap<>();
                store.byName().forEach((k, v) -> after.put(k, v.copy()));
                vars.add(after);
            }
        }
        return new Run(losses, logits, vars);
    }

    @Test
    void twoTrainingStepsMatchReference() {
        GpuTests.assumeGpu();
        compare(StepPasses.NONE);
    }

    /**
     * The same with the fused step (in-place BN, fused ReLU6·depthwise conv, cheap-op recomputation) on
     * both backends: every fused op on the GPU inside a real step. Gates StepPasses.forBackend("cuda").
     */
    @Test
    void twoFusedTrainingStepsMatchReference() {
        GpuTests.assumeGpu();
        compare(StepPasses.FUSED);
    }

    private static void compare(StepPasses passes) {
        Run ref = train(new ReferenceBackend(), 2, passes);
        Run perturbed = train(new ReferenceBackend(), 2, passes, 1e-6);
        Run got;
        Run again;
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.repeatable())) {
            got = train(gpu, 2, passes);
            again = train(gpu, 2, passes);
        }
        org.leanseg.testing.StepSpread.check("CudaTrainStepTest (" + (passes.fuse() ? "fused" : "plain") + ")", ref, perturbed, got, again);
    }

    private static boolean check(List<String> report, String what, double diff, double tol) {
        boolean ok = diff <= tol;
        report.add((ok ? "ok   " : "FAIL ") + what + ": " + String.format("%.3g", diff) + " (tolerance " + tol + ")");
        return ok;
    }

}
