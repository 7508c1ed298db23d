package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.cli.Main;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Workspace;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.StepPlan;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * The step {@code leanseg plan} and {@code profile} plan is the step the trainer's executor
 * allocates: for every recompute policy, fused and unfused, the planned peak {@code plan --json}
 * prints is what a {@link StepRunner} (the trainer's) allocates on the reference backend for the
 * same step: its arena and variables ({@link ReferenceBackend#arenaBytes()},
 * {@link ReferenceBackend#variableBytes()}) plus the workspace of the largest op it runs.
 *
 * <p>Before the one step builder ({@link StepBuilder}), StepPlan aliased in place only with fused
 * passes while the executor always did, so with {@link StepPasses#NONE} {@code plan} reported an
 * arena of 1,331,968 B for this 2x32x32 step where training allocated 1,327,360 B
 * ({@link #planOfTheUnfusedStepIsWhatTheTrainerAllocates}).
 * Check: {@code mvn -B -q test -Dtest=PlanMatchesTrainerTest}.
 */
class PlanMatchesTrainerTest {
    static final ModelConfig TINY = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
            .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(3);
    /** What {@code plan --width 0.25 --classes 3} builds (the command line has no head options). */
    static final ModelConfig CLI = ModelConfig.of("deeplabv3plus_mobilenetv2").withOutputStride(16).withClasses(3)
            .withAuxHead(false).withWidth(0.25);
    static final int BATCH = 2;
    static final int SIZE = 32;

    /** What the trainer's runner allocated for one training step: arena, variables, and the largest op workspace it ran. */
    record Allocated(long arenaBytes, long variableBytes, long workspaceBytes) {
        long peakBytes() {
            return arenaBytes + variableBytes + workspaceBytes;
        }
    }

    static Allocated trainerAllocates(ModelConfig config, StepPasses passes) {
        return trainerAllocates(config, passes, "reference");
    }

    /**
     * What a {@link StepRunner} allocates on {@code device} for one step: the backend's own counters
     * of arenas and variables; the workspace as the reference counts its kernels' scratch (the largest
     * over the schedule it runs), on cpu the native workspace the kernels actually requested.
     */
    static Allocated trainerAllocates(ModelConfig config, StepPasses passes, String device) {
        DeepLabV3Plus model = new DeepLabV3Plus(config);
        VariableStore store = new VariableStore();
        model.params().initialize(store, 1);
        List<String> log = new ArrayList<>();
        try (Backend backend = Backends.create(device).backend();
             StepRunner runner = new StepRunner(model, BATCH, SIZE, SIZE, OptimizerSettings.pytorchDefault(), 1, backend, store, passes,
                     null, Precision.FP32, null, log::add)) {
            Random rnd = new Random(3);
            int[] labels = new int[BATCH * SIZE * SIZE];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = rnd.nextInt(config.numClasses());
            }
            runner.micro(Tensor.gaussian(Shape.of(BATCH, 3, SIZE, SIZE), 1, rnd), Tensor.labels(Shape.of(BATCH, SIZE, SIZE), labels),
                    0.01f, 1);
            assertEquals(List.of(), log, "no rebuild (in-place BN guard) in this step");
            if (backend instanceof CpuBackend cpu) {
                return new Allocated(cpu.arenaBytes(), cpu.variableBytes(), cpu.peakWorkspaceBytes());
            }
            ReferenceBackend ref = (ReferenceBackend) backend;
            long workspace = 0;
            for (Node n : DeadCode.schedule(runner.graph().stepGraph())) {   // the schedule the executor runs
                workspace = Math.max(workspace, Workspace.OP.bytes(n, n.inputs().stream().map(Value::spec).toList()));
            }
            return new Allocated(ref.arenaBytes(), ref.variableBytes(), workspace);
        }
    }

    @Test
    void planOfTheUnfusedStepIsWhatTheTrainerAllocates() {
        check(StepPasses.NONE);
    }

    @Test
    void planOfTheFusedStepIsWhatTheTrainerAllocates() {
        check(StepPasses.FUSED);
    }

    private static void check(StepPasses passes) {
        MemoryReport planned = StepPlan.of(TINY, BATCH, SIZE, SIZE, passes).report();
        Allocated allocated = trainerAllocates(TINY, passes);
        assertEquals(planned.activationPeakBytes(), allocated.arenaBytes(), "arena, passes fuse=" + passes.fuse());
        assertEquals(planned.persistentBytes(), allocated.variableBytes(), "variables, passes fuse=" + passes.fuse());
    }

    static Stream<Arguments> policiesAndPasses() {
        List<String> devices = CpuNative.available() ? List.of("reference", "cpu") : List.of("reference");
        return devices.stream().flatMap(d -> Stream.of("none", "stages", "sqrt", "auto")
                .flatMap(p -> Stream.of(Arguments.of(d, p, true), Arguments.of(d, p, false))));
    }

    /**
     * {@code plan --device D}'s planned peak (the command line, JSON) equals what the trainer's
     * executor allocates on D, for every device here, every policy, fused or not.
     */
    @ParameterizedTest(name = "{0}, {1}, fused {2}")
    @MethodSource("policiesAndPasses")
    void plannedPeakOfPlanIsThePeakTheTrainerAllocates(String device, String policyName, boolean fused) throws Exception {
        StepPasses base = fused ? StepPasses.forDevice(Device.of(device)) : StepPasses.NONE;
        RecomputePolicy policy = policyName.equals("auto") ? autoBetween(base, device) : RecomputePolicy.parse(policyName);
        List<String> args = new ArrayList<>(List.of("plan", "--device", device, "--model", "deeplabv3plus_mobilenetv2", "--width", "0.25",
                "--classes", "3", "--size", SIZE + "x" + SIZE, "--batch", String.valueOf(BATCH), "--recompute", policy.toString(), "--json"));
        if (!fused) {
            args.add("--no-fuse");
        }
        JsonNode plan = planJson(args.toArray(String[]::new));
        Allocated allocated = trainerAllocates(CLI, base.withRecompute(policy), device);
        String what = device + ", " + policy + (fused ? ", fused" : ", not fused");
        assertEquals(device, plan.get("deviceKey").asText(), what);
        assertEquals(plan.get("activationPeakBytes").asLong(), allocated.arenaBytes(), what + ": arena");
        assertEquals(plan.get("persistentBytes").asLong(), allocated.variableBytes(), what + ": variables");
        assertEquals(plan.get("workspaceBytes").asLong(), allocated.workspaceBytes(), what + ": workspace");
        assertEquals(plan.get("plannedPeakBytes").asLong(), allocated.peakBytes(), what + ": planned peak");
        if (policy.kind() == RecomputePolicy.Kind.AUTO) {
            long stagesFlops = planJson(args.stream().map(a -> a.equals(policy.toString()) ? "stages" : a).toArray(String[]::new))
                    .get("recomputeFlops").asLong();
            long autoFlops = plan.get("recomputeFlops").asLong();
            assertTrue(autoFlops < stagesFlops, what + ": auto recomputes less than stages (" + autoFlops + " vs " + stagesFlops + ")");
            assertTrue(plan.get("plannedPeakBytes").asLong() <= policy.budget().bytes(), what + ": within the budget");
        }
    }

    /** A budget between the peaks of none and stages, so auto recomputes some stages but not all. */
    private static RecomputePolicy autoBetween(StepPasses base, String device) {
        Workspace ws = Ops.workspace(Device.of(device));
        long none = StepBuilder.training(new DeepLabV3Plus(CLI), BATCH, SIZE, SIZE).passes(base).workspace(ws).build().report()
                .plannedPeakBytes();
        long stages = StepBuilder.training(new DeepLabV3Plus(CLI), BATCH, SIZE, SIZE).passes(base.withRecompute(RecomputePolicy.stages()))
                .workspace(ws).build().report().plannedPeakBytes();
        assertTrue(stages < none, stages + " vs " + none);
        return RecomputePolicy.auto(new ByteSize((none + stages) / 2));
    }

    private static JsonNode planJson(String... args) throws Exception {
        PrintStream before = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            assertEquals(0, Main.run(args), String.join(" ", args));
        } finally {
            System.setOut(before);
        }
        return new ObjectMapper().readTree(buf.toString(StandardCharsets.UTF_8));
    }
}
