package org.leanseg.train;

import java.io.IOException;
import java.nio.file.Path;
import org.leanseg.config.ConfigException;
import org.leanseg.config.DistillConfig;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.infer.CheckpointModel;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.ops.loss.DistillKl;
import org.leanseg.ops.loss.DistillKlBackward;
import org.leanseg.ops.shape.Resize;

/**
 * Knowledge distillation in the training step ({@code train.distill}): a trained teacher, the form
 * of the loss, its temperature and weight. {@link TrainGraph} traces the teacher into the step
 * before the student and adds {@code weight · distill_kl} to the loss.
 *
 * <p>Note [Distillation loss]. The teacher is either model, built from its checkpoint's metadata and
 * traced in eval mode (BN on its running statistics) under the stage {@code teacher}, so plans,
 * {@code plan} and {@code profile} show its memory as a stage group of its own. Nothing depends on
 * the student's parameters there, so autograd appends no backward for it and the planner frees each
 * teacher activation after its last forward reader: only the logits the loss compares live on, into
 * the loss's backward (which recomputes both softmaxes from the two logits). The teacher runs first,
 * so its inference peak comes before the student's forward: the step's planned peak is at most the
 * student's training peak plus the teacher's inference peak ({@code DistillationStepTest}). Pixel-wise
 * KD compares the full-resolution logits (the labels mark the ignored pixels there), so the student's
 * loss keeps the plain resize + cross-entropy instead of the fused upsample loss; channel-wise KD
 * compares the stride-4 logits (what the decoder's classifier gives, as mmrazor applies it to the
 * head's logits) and leaves the fused loss as it is. The op has no CUDA kernel and runs on the cpu
 * device through the host fallback (Ops table).
 *
 * <pre>{@code
 * Distillation d = Distillation.load(cfg.train().distill(), studentConfig, store); // teacher weights into store
 * Step s = StepBuilder.training(student, 16, 32, 32).distill(d).build();
 * }</pre>
 *
 * @param teacher the teacher network (its variables must be in the step's variable store)
 * @param kind pixel-wise or channel-wise
 * @param temperature T
 * @param weight the loss weight w
 */
public record Distillation(DeepLabV3Plus teacher, DistillKl.Kind kind, float temperature, float weight) {
    /** The stage (and stage group) the teacher's ops carry. */
    public static final String STAGE = "teacher";

    /** The distillation {@code cfg} describes with {@code teacher} (for planning: weights need not be loaded). */
    public static Distillation of(DeepLabV3Plus teacher, DistillConfig cfg) {
        return new Distillation(teacher, DistillKl.Kind.valueOf(cfg.kind().name()), (float) cfg.temperature(), (float) cfg.weight());
    }

    /**
     * Loads the teacher of {@code cfg} (its model from the checkpoint's metadata) and puts its weights
     * and BN statistics into {@code store}; a teacher whose class count differs from the student's is
     * an error naming {@code train.distill.teacher}.
     */
    public static Distillation load(DistillConfig cfg, ModelConfig student, VariableStore store) throws IOException {
        CheckpointModel m;
        try {
            m = CheckpointModel.load(Path.of(cfg.teacher()), student);
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("train.distill.teacher: " + e.getMessage(), e);
        }
        ModelConfig tc = m.model().config();
        if (tc.numClasses() != student.numClasses()) {
            throw new ConfigException("train.distill.teacher: " + cfg.teacher() + " has " + tc.numClasses() + " classes but the student "
                    + student.numClasses() + "; distil from a teacher trained on the same classes");
        }
        for (ParamSet.Entry e : m.model().params().entries()) {
            store.set(e.variable(), m.store().get(e.variable()));
        }
        return of(m.model(), cfg);
    }

    /** Whether {@code device} runs the distillation loss and its backward (a kernel there, or its host fallback). */
    public boolean runsOn(Device<?, ?> device) {
        return Ops.runs(device, new DistillKl(kind, temperature, TrainGraph.IGNORE_INDEX))
                && Ops.runs(device, new DistillKlBackward(kind, temperature, TrainGraph.IGNORE_INDEX));
    }

    /** The teacher's eval forward on {@code image}, traced under {@link #STAGE}: the logits the loss compares. */
    Value teacherLogits(Graph g, Value image) {
        try (var s = g.scope(STAGE)) {
            return compared(teacher.forward(new Trace(g, false), image).logits());
        }
    }

    /** Of a model's full-resolution logits, the ones this kind compares: themselves (pixel) or the stride-4 logits (channel). */
    Value compared(Value logits) {
        if (kind == DistillKl.Kind.CHANNEL && logits.producer() != null && logits.producer().op() instanceof Resize) {
            return logits.producer().input(0);
        }
        return logits;
    }

    /** {@code weight · distill_kl(student, teacher[, labels])}, appended in the current stage. */
    Value loss(Graph g, Value studentLogits, Value teacherLogits, Value labels) {
        DistillKl op = new DistillKl(kind, temperature, TrainGraph.IGNORE_INDEX);
        Value kd = kind == DistillKl.Kind.PIXEL ? g.apply1(op, studentLogits, teacherLogits, labels)
                : g.apply1(op, studentLogits, teacherLogits);
        return weight == 1f ? kd : g.apply1(new Scale(weight), kd);
    }
}
