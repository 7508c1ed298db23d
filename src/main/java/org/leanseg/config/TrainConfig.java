package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.util.List;
import java.util.Locale;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.tensor.Precision;

/**
 * {@code train:} section: optimizer, schedule, intervals and parallelism.
 *
 * <pre>{@code
 * TrainConfig tc = TrainingConfig.load(null, List.of("train.batch=auto", "train.memory_budget=6GiB",
 *         "train.recompute=stages")).train();
 * if (tc.batch().isAuto()) { ... plan the largest batch that fits tc.memoryBudget() ... }
 * }</pre>
 *
 * @param batch images per optimizer micro-step, or {@code auto} (largest that fits the device)
 * @param iters optimizer steps
 * @param lr base learning rate (after warmup, before decay)
 * @param momentum SGD momentum
 * @param weightDecay L2 weight decay (not applied to norm parameters and biases)
 * @param nesterov Nesterov momentum (needs momentum &gt; 0)
 * @param schedule learning-rate decay: {@code poly} (lr·(1−t/T)^power) or {@code cosine}
 * @param power exponent of the poly schedule
 * @param warmupIters linear warmup steps from lr·warmupRatio to lr
 * @param warmupRatio starting fraction of lr during warmup
 * @param accumulate micro-batches whose gradients are summed per optimizer step
 * @param seed seed of initialisation, data order and augmentation
 * @param logInterval steps between log lines
 * @param evalInterval steps between evaluations (0: only at the end)
 * @param checkpointInterval steps between checkpoints (0: only at the end)
 * @param keepLast periodic checkpoints kept on disk (older ones are deleted)
 * @param backboneLrMult learning-rate multiplier of backbone parameters
 * @param threads CPU threads of the reference backend (0: all available cores)
 * @param optimizer {@code sgd} (momentum, nesterov) or {@code adamw} (decoupled weight decay)
 * @param beta1 AdamW's first-moment decay
 * @param beta2 AdamW's second-moment decay
 * @param recompute what the step recomputes in backward: {@code none}, {@code stages}, {@code sqrt}
 *     or {@code auto:<bytes>} (see {@link RecomputePolicy})
 * @param memoryBudget the device memory a step may plan (e.g. {@code 6GiB}); needed by
 *     {@code batch: auto}, which trains the largest batch whose plan fits it; null: no budget
 * @param classWeights the loss weight of each class (one number >= 0 per class, as
 *     mmsegmentation's {@code class_weight} and PyTorch's {@code CrossEntropyLoss(weight=)}: the
 *     mean is over weights), or null for none
 * @param precision {@code fp32}, or {@code bf16}/{@code fp16}: activations and their gradients stored
 *     in 16 bits, weights, optimizer state and BN statistics in fp32, fp16 with dynamic loss scaling
 *     (Note [Mixed precision] in tensor/Precision)
 * @param distill knowledge distillation from a teacher checkpoint ({@link DistillConfig}; off by default)
 * @param deterministic {@code true}: bitwise-repeatable steps on the GPU (cuDNN's heuristic algorithm ranking,
 *     deterministic algorithms preferred); {@code false} (default): cuDNN algorithms chosen by timing each
 *     candidate once per shape ({@code cudnnFind*AlgorithmEx}), non-deterministic ones allowed. No effect on the
 *     cpu and reference backends, whose steps always repeat.
 * @param cudaGraphs {@code true} (default): on the GPU the training step is captured once as a CUDA graph
 *     (after one eager step) and replayed (Note [Whole-step graphs] in exec.Executor); {@code false}:
 *     every op is launched from Java each step. No effect on the cpu and reference backends.
 */
public record TrainConfig(BatchSize batch, int iters, double lr, double momentum, double weightDecay, boolean nesterov,
        Schedule schedule, double power, int warmupIters, double warmupRatio, int accumulate, long seed,
        int logInterval, int evalInterval, int checkpointInterval, int keepLast, double backboneLrMult, int threads,
        Optimizer optimizer, double beta1, double beta2,
        @JsonSerialize(using = ToStringSerializer.class) RecomputePolicy recompute,
        @JsonSerialize(using = ToStringSerializer.class) ByteSize memoryBudget, List<Double> classWeights,
        @JsonSerialize(using = ToStringSerializer.class) Precision precision, DistillConfig distill, boolean deterministic,
        boolean cudaGraphs) {

    /** Optimizers, spelled in YAML as their lower-case names. */
    public enum Optimizer {
        SGD, ADAMW;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Learning-rate decay schedules, spelled in YAML as their lower-case names. */
    public enum Schedule {
        POLY, COSINE;

        @JsonValue
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Sized for a ~7-minute run of the default model on the synthetic set on a 2-core CPU (docs/benchmarks.md). */
    static TrainConfig defaults() {
        return new TrainConfig(BatchSize.fixed(16), 8000, 0.1, 0.9, 1e-4, false, Schedule.POLY, 0.9, 30, 0.1, 1, 0,
                10, 1000, 1000, 2, 1.0, 0, Optimizer.SGD, 0.9, 0.999, RecomputePolicy.none(), null, null, Precision.FP32,
                DistillConfig.defaults(), false, true);
    }

    static TrainConfig read(ConfigTree t) {
        int iters = t.integer("train.iters", 1, Integer.MAX_VALUE);
        double momentum = t.real("train.momentum", 0, false, 0.999);
        boolean nesterov = t.bool("train.nesterov");
        if (nesterov && momentum == 0) {
            throw t.bad("train.nesterov", "true needs train.momentum > 0");
        }
        return new TrainConfig(
                t.batch("train.batch"),
                iters,
                t.real("train.lr", 0, true, Double.POSITIVE_INFINITY),
                momentum,
                t.real("train.weight_decay", 0, false, 1),
                nesterov,
                t.choice("train.schedule", Schedule.class),
                t.real("train.power", 0, true, Double.POSITIVE_INFINITY),
                // a warmup longer than the run is an error when set, and shortened when it is the default
                t.isExplicit("train.warmup_iters") ? t.integer("train.warmup_iters", 0, iters)
                        : Math.min(iters, t.integer("train.warmup_iters", 0, Integer.MAX_VALUE)),
                t.real("train.warmup_ratio", 0, true, 1),
                t.integer("train.accumulate", 1, 1 << 16),
                t.longInteger("train.seed"),
                t.integer("train.log_interval", 1, Integer.MAX_VALUE),
                t.integer("train.eval_interval", 0, Integer.MAX_VALUE),
                t.integer("train.checkpoint_interval", 0, Integer.MAX_VALUE),
                t.integer("train.keep_last", 1, Integer.MAX_VALUE),
                t.real("train.backbone_lr_mult", 0, false, Double.POSITIVE_INFINITY),
                t.integer("train.threads", 0, 1 << 12),
                t.choice("train.optimizer", Optimizer.class),
                t.real("train.beta1", 0, false, 0.999999),
                t.real("train.beta2", 0, false, 0.999999),
                t.recompute("train.recompute"),
                t.byteSize("train.memory_budget", true),
                t.nonNegativeRealListOrNull("train.class_weights"),
                t.choice("train.precision", Precision.class),
                DistillConfig.read(t),
                t.bool("train.deterministic"),
                t.bool("train.cuda_graphs"));
    }

    /** The class weights as the loss op takes them, or null. */
    public float[] classWeightArray() {
        if (classWeights == null) {
            return null;
        }
        float[] w = new float[classWeights.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = classWeights.get(i).floatValue();
        }
        return w;
    }
}
