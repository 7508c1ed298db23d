package org.leanseg.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import java.util.function.Supplier;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.OracleFiles;
import org.leanseg.train.OptimizerSettings;
import org.leanseg.train.TrainGraph;

/**
 * PyTorch parity (MODEL_SPEC.md, "The oracles"): for every oracle file (or the one named by
 * LEANSEG_ORACLE), builds the model from the file's metadata, loads {@code init/} and checks eval
 * and train forward, loss, BN buffers, gradients, teacher-forced SGD and three free steps at the
 * listed tolerances (overridden by the file's {@code verify_tol}).
 * Run one file: {@code LEANSEG_ORACLE=path mvn -B test -Dgroups=oracle}. The training steps run under
 * the recompute policy {@code LEANSEG_RECOMPUTE} names (none, stages, sqrt, auto:&lt;bytes&gt;; default none):
 * {@code LEANSEG_RECOMPUTE=stages mvn -B test -Dtest=OracleTest}.
 */
@Tag("oracle")
class OracleTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestFactory
    Stream<DynamicTest> oracles() throws IOException {
        List<Path> files = OracleFiles.all();
        Assumptions.assumeFalse(files.isEmpty(), "no oracle files found (set LEANSEG_ORACLE or keep ../shared/oracle beside the repo)");
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> check(f, ReferenceBackend::new)));
    }

    /** The recompute policy of the training steps: {@code LEANSEG_RECOMPUTE}, default none. */
    static RecomputePolicy recompute() {
        String p = System.getenv("LEANSEG_RECOMPUTE");
        return p == null || p.isBlank() ? RecomputePolicy.none() : RecomputePolicy.parse(p);
    }

    private static StepPasses passes(Supplier<Backend> backends) {
        return StepPasses.forBackend(backends.get().name()).withRecompute(recompute());
    }

    /** Tolerances of MODEL_SPEC's table, keyed as in verify_tol. */
    static Map<String, Double> tolerances(String verifyTol) throws IOException {
        Map<String, Double> t = new HashMap<>(Map.of("logits", 2e-4, "loss", 1e-5, "grad", 1e-2, "grad_median", 5e-3,
                "bn", 1e-4, "sgd", 1e-5, "losses01", 1e-3, "losses2", 5e-2, "step3_median", 1e-2, "step3_max", 0.5));
        if (verifyTol != null) {
            JsonNode n = JSON.readTree(verifyTol);
            n.fields().forEachRemaining(e -> t.put(e.getKey(), e.getValue().asDouble()));
        }
        return t;
    }

    static double diff(Tensor a, Tensor ref, double floor) {
        assertEquals(ref.shape(), a.shape());
        double m = 0;
        for (int i = 0; i < a.data().length; i++) {
            double d = Math.abs((double) a.data()[i] - ref.data()[i]);
            if (Double.isNaN(a.data()[i])) {
                return Double.POSITIVE_INFINITY;
            }
            m = Math.max(m, d);
        }
        return m / Math.max(ref.maxAbs(), floor);
    }

    /** Checks one oracle file with executors on {@code backends.get()} (CudaOracleTest passes the GPU). */
    static void check(Path file, Supplier<Backend> backends) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            check(file, st, backends);
        }
    }

    private static void check(Path file, SafetensorsFile st, Supplier<Backend> backends) throws IOException {
        Map<String, String> meta = st.metadata();
        ModelConfig cfg = ModelConfigJson.parse(meta.get("model_config"), meta.get("batchnorm"));
        JsonNode input = JSON.readTree(meta.get("input"));
        int n = input.get("batch").asInt();
        int h = input.get("height").asInt();
        int w = input.get("width").asInt();
        Map<String, Double> tol = tolerances(meta.get("verify_tol"));
        DeepLabV3Plus model = new DeepLabV3Plus(cfg);
        ParamSet ps = model.params();

        // names and shapes equal the state_dict's
        TreeSet<String> initKeys = new TreeSet<>();
        for (String k : st.keys()) {
            if (k.startsWith("init/")) {
                initKeys.add(k.substring(5));
            }
        }
        assertEquals(initKeys, new TreeSet<>(ps.byName().keySet()), "parameter names differ from the oracle's state_dict");
        VariableStore init = new VariableStore();
        for (ParamSet.Entry e : ps.entries()) {
            Tensor t = st.tensor("init/" + e.variable().name());
            assertEquals(e.variable().spec().shape(), t.shape(), e.variable().name());
            init.set(e.variable(), t);
        }
        Tensor x = st.tensor("input/x");
        Tensor label = st.tensor("input/label");
        List<String> report = new ArrayList<>();

        // eval forward
        VariableStore store = copy(ps, init);
        Graph eg = new Graph();
        Value ex = eg.input("image", TensorSpec.f32(n, 3, h, w));
        Value elog = model.forward(new Trace(eg, false), ex).logits();
        eg.markOutput(elog);
        try (Executor e = new Executor(eg, backends.get(), store)) {
            e.run(Map.of(ex, x));
            expect(report, "eval/logits", diff(e.read(elog), st.tensor("eval/logits"), 1), tol.get("logits"));
        }

        // train forward + backward (learning rate 0: parameters stay; momenta are scratch)
        store = copy(ps, init);
        TrainGraph tg = new TrainGraph(model, n, h, w, OptimizerSettings.pytorchDefault(), 1, passes(backends));
        Graph g = tg.stepGraph();
        g.markOutput(tg.logits());
        Map<Variable, Value> grads = gradientValues(g, ps);
        grads.values().forEach(g::markOutput);
        try (Executor e = new Executor(g, backends.get(), store)) {
            e.run(Map.of(tg.image(), x, tg.label(), label, tg.lr(), Tensor.of(org.leanseg.tensor.Shape.of(1), 0f)));
            Tensor logits = e.read(tg.logits());
            if (tg.logitsUpsample() != null) { // the fused loss holds stride-4 logits (Note [Fused upsample loss])
                logits = org.leanseg.testing.OpRun.run(tg.logitsUpsample(), logits).output(0);
            }
            expect(report, "fwd/logits", diff(logits, st.tensor("fwd/logits"), 1), tol.get("logits"));
            Tensor loss = e.read(tg.loss());
            double refLoss = st.tensor("fwd/loss").data()[0];
            expect(report, "fwd/loss", Math.abs(loss.data()[0] - refLoss) / Math.abs(refLoss), tol.get("loss"));
            e.syncVariables();
            double worstBn = 0;
            String worstName = "";
            int buffers = 0;
            for (ParamSet.Entry en : ps.entries()) {
                String name = en.variable().name();
                if (en.variable().role() == Role.BUFFER && st.contains("fwd/" + name) && !name.endsWith("num_batches_tracked")) {
                    double d = diff(store.get(en.variable()), st.tensor("fwd/" + name), 1);
                    buffers++;
                    if (d >= worstBn) {
                        worstBn = d;
                        worstName = name;
                    }
                }
            }
            expect(report, "fwd/ BN buffers (" + buffers + ", worst " + worstName + ")", worstBn, tol.get("bn"));
            checkGradients(report, st, ps, grads, e, tol);
        }
        checkTeacherForcedSgd(report, st, ps, init, tol, backends);
        checkFreeSteps(report, st, model, init, x, label, n, h, w, tol, backends);
        System.out.println("oracle " + file.getFileName() + " on " + backends.get().name() + ", recompute " + recompute() + " (" + cfg + "):\n  "
                + String.join("\n  ", report));
        List<String> failed = report.stream().filter(r -> r.startsWith("FAIL")).toList();
        assertTrue(failed.isEmpty(), file.getFileName() + ": " + failed.size() + " checks failed:\n" + String.join("\n", failed));
    }

    private static VariableStore copy(ParamSet ps, VariableStore from) {
        VariableStore s = new VariableStore();
        for (ParamSet.Entry e : ps.entries()) {
            s.set(e.variable(), from.get(e.variable()));
        }
        return s;
    }

    private static void expect(List<String> report, String what, double diff, double tol) {
        report.add((diff <= tol ? "ok   " : "FAIL ") + what + ": diff " + String.format("%.3g", diff) + " (tolerance " + tol + ")");
    }

    /** Gradient values of the step graph, found as the SGD ops' second inputs. */
    private static Map<Variable, Value> gradientValues(Graph g, ParamSet ps) {
        Map<Variable, Value> m = new HashMap<>();
        for (var node : g.nodes()) {
            if (node.phase() == Phase.OPTIMIZER && node.op() instanceof Sgd) {
                m.put(node.input(0).variable(), node.input(1));
            }
        }
        return m;
    }

    private static void checkGradients(List<String> report, SafetensorsFile st, ParamSet ps, Map<Variable, Value> grads,
                                       Executor e, Map<String, Double> tol) throws IOException {
        double global = 0;
        for (Variable p : ps.parameters()) {
            global = Math.max(global, st.tensor("grad/" + p.name()).maxAbs());
        }
        double[] diffs = new double[ps.parameters().size()];
        int i = 0;
        String worst = "";
        double worstDiff = -1;
        for (Variable p : ps.parameters()) {
            Value gv = grads.get(p);
            Tensor mine = gv == null ? Tensor.zeros(p.spec().shape()) : e.read(gv);
            double d = diff(mine, st.tensor("grad/" + p.name()), 1e-3 * global);
            diffs[i++] = d;
            if (d > worstDiff) {
                worstDiff = d;
                worst = p.name();
            }
        }
        Arrays.sort(diffs);
        expect(report, "grad/* max (worst " + worst + ")", diffs[diffs.length - 1], tol.get("grad"));
        expect(report, "grad/* median", diffs[diffs.length / 2], tol.get("grad_median"));
    }

    /** init + grad, sgd/grad2, sgd/grad3 through our SGD op → step3 of those tensors. */
    private static void checkTeacherForcedSgd(List<String> report, SafetensorsFile st, ParamSet ps, VariableStore init,
                                              Map<String, Double> tol, Supplier<Backend> backends) throws IOException {
        JsonNode opt = JSON.readTree(st.metadata().getOrDefault("optimizer", "{}"));
        double lr = opt.path("lr").asDouble(0.01);
        float momentum = (float) opt.path("momentum").asDouble(0.9);
        float wd = (float) opt.path("weight_decay").asDouble(1e-4);
        boolean nesterov = opt.path("nesterov").asBoolean(false);
        Graph g = new Graph();
        Value lrIn = g.input("lr", TensorSpec.f32(1));
        Map<Variable, Value> gradIn = new HashMap<>();
        List<Variable> checked = new ArrayList<>();
        for (Variable p : ps.parameters()) {
            if (st.contains("sgd/grad2/" + p.name()) && st.contains("sgd/grad3/" + p.name()) && st.contains("step3/" + p.name())) {
                checked.add(p);
                Value gr = g.input("grad/" + p.name(), p.spec());
                gradIn.put(p, gr);
                Variable mom = new Variable("momentum/" + p.name(), p.spec(), Role.OPTIMIZER_STATE);
                g.apply(new Sgd(momentum, nesterov, wd, 1f, false), g.variable(p), gr, g.variable(mom), lrIn);
            }
        }
        // a failure, not a skip: an oracle without its sgd/ tensors would otherwise pass the SGD check unchecked
        org.junit.jupiter.api.Assertions.assertFalse(checked.isEmpty(), "oracle has no sgd/ tensors (sgd/grad2/, sgd/grad3/, step3/): regenerate it");
        VariableStore store = copy(ps, init);
        try (Executor e = new Executor(g, backends.get(), store)) {
            for (String src : List.of("grad/", "sgd/grad2/", "sgd/grad3/")) {
                Map<Value, Tensor> feeds = new HashMap<>();
                feeds.put(lrIn, Tensor.of(org.leanseg.tensor.Shape.of(1), (float) lr));
                for (Variable p : checked) {
                    feeds.put(gradIn.get(p), st.tensor(src + p.name()));
                }
                e.run(feeds);
            }
            e.syncVariables();
        }
        double worst = 0;
        for (Variable p : checked) {
            worst = Math.max(worst, diff(store.get(p), st.tensor("step3/" + p.name()), 1e-2));
        }
        expect(report, "sgd teacher-forced (" + checked.size() + " tensors)", worst, tol.get("sgd"));
    }

    private static void checkFreeSteps(List<String> report, SafetensorsFile st, DeepLabV3Plus model, VariableStore init,
                                       Tensor x, Tensor label, int n, int h, int w, Map<String, Double> tol,
                                       Supplier<Backend> backends) throws IOException {
        JsonNode opt = JSON.readTree(st.metadata().getOrDefault("optimizer", "{}"));
        OptimizerSettings sgd = new OptimizerSettings(opt.path("momentum").asDouble(0.9), opt.path("nesterov").asBoolean(false),
                opt.path("weight_decay").asDouble(1e-4), true, 1.0);
        float lr = (float) opt.path("lr").asDouble(0.01);
        ParamSet ps = model.params();
        VariableStore store = copy(ps, init);
        TrainGraph tg = new TrainGraph(model, n, h, w, sgd, 1, passes(backends));
        Tensor refLosses = st.tensor("step3/losses");
        float[] losses = new float[3];
        try (Executor e = new Executor(tg.stepGraph(), backends.get(), store)) {
            for (int s = 0; s < 3; s++) {
                e.run(Map.of(tg.image(), x, tg.label(), label, tg.lr(), Tensor.of(org.leanseg.tensor.Shape.of(1), lr)));
                losses[s] = e.read(tg.loss()).data()[0];
            }
            e.syncVariables();
        }
        for (int s = 0; s < 3; s++) {
            double rel = Math.abs(losses[s] - refLosses.data()[s]) / Math.abs(refLosses.data()[s]);
            expect(report, "step3/losses[" + s + "]", rel, tol.get(s < 2 ? "losses01" : "losses2"));
        }
        List<Double> diffs = new ArrayList<>();
        for (ParamSet.Entry en : ps.entries()) {
            String name = en.variable().name();
            if (st.contains("step3/" + name) && !name.endsWith("num_batches_tracked")) {
                diffs.add(diff(store.get(en.variable()), st.tensor("step3/" + name), 1e-2));
            }
        }
        diffs.sort(Double::compare);
        expect(report, "step3/* median (" + diffs.size() + " tensors)", diffs.get(diffs.size() / 2), tol.get("step3_median"));
        expect(report, "step3/* max", diffs.get(diffs.size() - 1), tol.get("step3_max"));
    }
}
