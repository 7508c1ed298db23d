package org.leanseg.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Backends;
import org.leanseg.ops.Device;
import org.leanseg.train.OptimizerSettings;
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
import org.leanseg.tensor.Precision;
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

    @Mixin
    DistillOptions distillOptions;

    @Option(names = "--batch", description = "images per step (default: " + DEFAULT_BATCH + "; not with --memory-budget)")
    Integer batch;

    @Option(names = "--no-fuse", description = "no in-place BN, ReLU·depthwise fusion or cheap-op recompute (A/B); "
            + "ops that may write over their input still do, as train runs them")
    boolean noFuse;

    @Option(names = "--recompute", converter = RecomputeConverter.class,
            description = "recompute policy: none, stages, sqrt, auto:<bytes> (e.g. auto:6GiB; exact) or auto-greedy:<bytes> (default: none; "
                    + "with --memory-budget: all four, auto at the budget)")
    RecomputePolicy recompute;

    @Option(names = "--memory-budget", converter = RecomputeConverter.Bytes.class,
            description = "search the largest batch whose planned peak (activations + persistent + workspace) fits, e.g. 6GiB")
    ByteSize memoryBudget;

    @Option(names = "--precision", converter = PrecisionConverter.class, defaultValue = "fp32", description = PrecisionConverter.DESCRIPTION)
    Precision precision;

    @Option(names = "--json", description = "print JSON instead of the table")
    boolean json;

    @Option(names = "--device", defaultValue = "auto", description = "auto (default: the device train would use), cuda, cpu or "
            + "reference: plans the step that device runs (its rewrites and its kernels' workspace); on cuda it also allocates the "
            + "planned arena and variables there and reports the device memory they took (cudaMemGetInfo) beside the plan")
    String device;

    private org.leanseg.train.Distillation distill;

    @Override
    public Integer call() {
        int[] hw = modelOptions.size();
        ModelConfig cfg = modelOptions.config();
        distill = distillOptions.distillation(cfg);
        String key;
        try {
            key = deviceKey(device);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("leanseg plan: " + e.getMessage());
            return 2;
        }
        if (distill != null && precision != Precision.FP32) {
            System.err.println("leanseg plan: --teacher: " + org.leanseg.train.TrainGraph.DISTILL_FP32_ONLY);
            return 2;
        }
        if (PrecisionConverter.unsupported(key, precision) != null) {
            System.err.println("leanseg plan: " + PrecisionConverter.unsupported(key, precision));
            return 2;
        }
        if (modelOptions.note() != null) {
            System.err.println(modelOptions.note());
        }
        Device<?, ?> target = Device.of(key);
        StepPasses passes = noFuse ? StepPasses.NONE : StepPasses.forDevice(target);
        if (memoryBudget != null) {
            if (batch != null) {
                System.err.println("--batch and --memory-budget: give one of them; --memory-budget searches the batch");
                return 2;
            }
            return budget(cfg, hw, passes, target);
        }
        int b = batch == null ? DEFAULT_BATCH : batch;
        if (b < 1) {
            System.err.println("--batch must be >= 1, got " + b);
            return 2;
        }
        if (key.equals("cuda") && !org.leanseg.backend.cuda.CudaProbe.result().usable()) {
            // planning for a card this machine does not have: the cuda step's plan, nothing allocated
            if (!json) {
                System.out.println("device: cuda (the step the cuda backend runs; planned only, nothing allocated: no usable GPU here, "
                        + org.leanseg.backend.cuda.CudaProbe.result().reason() + ")" + (precision != Precision.FP32 ? "; precision " + precision : ""));
            }
            return plan(cfg, hw, b, passes, target, null);
        }
        if (!key.equals("cuda")) {
            if (!json) {
                System.out.println("device: " + key + " (the step the " + key + " backend runs"
                        + (device.equals("auto") ? "; cuda unavailable: " + org.leanseg.backend.cuda.CudaProbe.result().reason() : "")
                        + "; planned only, nothing allocated)" + (precision != Precision.FP32 ? "; precision " + precision : ""));
            }
            return plan(cfg, hw, b, passes, target, null);
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
            return plan(cfg, hw, b, passes, target, backend);
        }
    }

    /**
     * The device whose step to plan: {@code auto} is the one {@code train} would use (CUDA when
     * usable, else cpu when its library loads, else reference); a named device must be usable here
     * only for cuda (which allocates) and cpu (whose workspace oneDNN reports).
     */
    static String deviceKey(String device) {
        switch (device) {
            case "auto":
                return org.leanseg.backend.cuda.CudaProbe.usable() ? "cuda"
                        : org.leanseg.backend.cpu.CpuNative.available() ? "cpu" : "reference";
            case "cpu":
                if (!org.leanseg.backend.cpu.CpuNative.available()) {
                    throw new IllegalStateException("--device cpu: cpu backend unavailable: " + org.leanseg.backend.cpu.CpuNative.unavailableReason());
                }
                return device;
            case "cuda":
            case "reference":
                return device;
            default:
                throw new IllegalArgumentException("unknown device '" + device + "'; use " + Backends.DEVICES);
        }
    }

    /** Plans one batch size and prints it; on a device backend, with the memory the allocation took there. */
    private int plan(ModelConfig cfg, int[] hw, int b, StepPasses passes, Device<?, ?> target, Backend backend) {
        StepPlan p;
        try {
            p = StepPlan.of(cfg, b, hw[0], hw[1], passes.withRecompute(recompute == null ? RecomputePolicy.none() : recompute),
                    OptimizerSettings.pytorchDefault(), 1, target, precision, distill);
        } catch (BudgetException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        DeviceAllocation measured = backend == null ? null : StepProfiler.allocate(p, backend, 1);
        if (json) {
            ObjectNode o = PlanFormat.json(p);
            o.put("deviceKey", target.key());
            o.put("precision", precision.key());
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
    private int budget(ModelConfig cfg, int[] hw, StepPasses passes, Device<?, ?> target) {
        List<RecomputePolicy> policies = recompute != null ? List.of(recompute)
                : List.of(RecomputePolicy.none(), RecomputePolicy.stages(), RecomputePolicy.sqrt(), RecomputePolicy.auto(memoryBudget));
        Map<String, StepPlan> plans = new HashMap<>();
        BatchSearch.PolicyPlanner<StepPlan> planner = (b, policy) -> plans.computeIfAbsent(policy + "@" + b,
                k -> StepPlan.of(cfg, b, hw[0], hw[1], passes.withRecompute(policy), OptimizerSettings.pytorchDefault(), 1, target,
                        precision, distill));
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
