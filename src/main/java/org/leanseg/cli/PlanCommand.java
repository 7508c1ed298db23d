package org.leanseg.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.memory.BatchSearch;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.BudgetException;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.DeviceAllocation;
import org.leanseg.profile.PlanFormat;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code leanseg plan}: the memory plan of one training step, before allocating a byte; with
 * {@code --memory-budget}, the largest batch that fits under each recompute policy.
 *
 * <pre>{@code
 * leanseg plan --model deeplabv3plus_mobilenetv2 --batch 2 --size 512x512 --recompute stages [--json]
 * leanseg plan --model deeplabv3plus_xception65 --size 512x512 --memory-budget 6GiB
 * }</pre>
 * Check: {@code mvn -q test -Dtest=PlanCommandTest}.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Plan the memory of one training step (forward, loss, backward, SGD) without allocating it: "
                + "planned peak, activation arena vs lower bound, bytes saved for backward, per-stage breakdown. "
                + "With --memory-budget: the largest batch that fits under each recompute policy, and what it costs.")
public final class PlanCommand implements Callable<Integer> {
    private static final int DEFAULT_BATCH = 2;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--batch", description = "images per step (default: " + DEFAULT_BATCH + "; not with --memory-budget)")
    Integer batch;

    @Option(names = "--no-fuse", description = "no in-place BN, ReLU·depthwise fusion, in-place ops or cheap-op recompute (A/B)")
    boolean noFuse;

    @Option(names = "--recompute", converter = RecomputeConverter.class,
            description = "recompute policy: none, stages, sqrt or auto:<bytes> (e.g. auto:6GiB) (default: none; "
                    + "with --memory-budget: all four, auto at the budget)")
    RecomputePolicy recompute;

    @Option(names = "--memory-budget", converter = RecomputeConverter.Bytes.class,
            description = "search the largest batch whose planned peak (activations + persistent + workspace) fits, e.g. 6GiB")
    ByteSize memoryBudget;

    @Option(names = "--json", description = "print JSON instead of the table")
    boolean json;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu (default: plan only), cuda or auto: on a GPU, also allocate "
            + "the planned arena and variables there and report the device memory they took (cudaMemGetInfo) beside the plan")
    String device;

    @Override
    public Integer call() {
        int[] hw = modelOptions.size();
        ModelConfig cfg = modelOptions.config();
        if (modelOptions.note() != null) {
            System.err.println(modelOptions.note());
        }
        StepPasses passes = noFuse ? StepPasses.NONE : StepPasses.FUSED;
        if (memoryBudget != null) {
            if (batch != null) {
                System.err.println("--batch and --memory-budget: give one of them; --memory-budget searches the batch");
                return 2;
            }
            return budget(cfg, hw, passes);
        }
        int b = batch == null ? DEFAULT_BATCH : batch;
        if (b < 1) {
            System.err.println("--batch must be >= 1, got " + b);
            return 2;
        }
        if (device.equals("cpu")) {
            return plan(cfg, hw, b, passes, null);
        }
        Backends.Choice choice;
        try {
            choice = Backends.create(device);
        } catch (IllegalArgumentException | IllegalStateException e) {
            CliErrors.print(System.err, "leanseg plan: ", e);
            return 2;
        }
        if (!json) {
            System.out.println(choice.line());
        }
        try (Backend backend = choice.backend()) {
            // the step the trainer runs on that backend
            return plan(cfg, hw, b, noFuse ? StepPasses.NONE : StepPasses.forBackend(backend.name()), backend);
        }
    }

    /** Plans one batch size and prints it; on a device backend, with the memory the allocation took there. */
    private int plan(ModelConfig cfg, int[] hw, int b, StepPasses passes, Backend backend) {
        StepPlan p;
        try {
            p = StepPlan.of(cfg, b, hw[0], hw[1], passes.withRecompute(recompute == null ? RecomputePolicy.none() : recompute));
        } catch (BudgetException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        DeviceAllocation measured = backend == null ? null : StepProfiler.allocate(p, backend, 1);
        if (json) {
            ObjectNode o = PlanFormat.json(p);
            if (backend != null) {
                o.set("device", PlanFormat.deviceJson(measured));
            }
            System.out.println(PlanFormat.jsonText(o));
        } else {
            System.out.print(PlanFormat.table(p));
            if (measured != null) {
                System.out.print(PlanFormat.deviceLine(p, measured));
            }
        }
        return 0;
    }

    /** The batch search per policy; plans are shared between policies (auto searches on stages). */
    private int budget(ModelConfig cfg, int[] hw, StepPasses passes) {
        List<RecomputePolicy> policies = recompute != null ? List.of(recompute)
                : List.of(RecomputePolicy.none(), RecomputePolicy.stages(), RecomputePolicy.sqrt(), RecomputePolicy.auto(memoryBudget));
        Map<String, StepPlan> plans = new HashMap<>();
        BatchSearch.PolicyPlanner<StepPlan> planner = (b, policy) -> plans.computeIfAbsent(policy + "@" + b,
                k -> StepPlan.of(cfg, b, hw[0], hw[1], passes.withRecompute(policy)));
        Map<RecomputePolicy, BatchSearch.Result<StepPlan>> results = new LinkedHashMap<>();
        for (RecomputePolicy policy : policies) {
            results.put(policy, BatchSearch.largest(planner, p -> p.report().plannedPeakBytes(), policy, memoryBudget,
                    BatchSearch.MAX_BATCH));
        }
        System.out.print(json ? PlanFormat.budgetJsonText(cfg, hw[0], hw[1], passes, memoryBudget, results) + "\n"
                : PlanFormat.budgetTable(cfg, hw[0], hw[1], passes, memoryBudget, results));
        return 0;
    }
}
