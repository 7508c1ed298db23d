package org.leanseg.train;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.autograd.Autograd;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.Rebuild;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.Op;
import org.leanseg.ops.optim.AdamW;
import org.leanseg.ops.optim.LossScale;
import org.leanseg.ops.optim.LossScaleUpdate;
import org.leanseg.ops.optim.LossScaled;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * The whole training step as graphs: forward (train mode), cross-entropy loss (+ 0.4 x aux loss,
 * + w x distillation loss against a teacher's eval forward, Note [Distillation loss]), autograd, and the SGD update. Without accumulation the update is part of the same graph, so the
 * planner sees the full forward+backward+optimizer schedule and frees each gradient right after
 * its update. With accumulation over k micro-batches the step graph adds (loss / k)'s gradients
 * into persistent accumulators and a separate {@link #optimizerGraph()} applies and zeroes them.
 */
public final class TrainGraph {
    public static final float AUX_WEIGHT = 0.4f;
    public static final int IGNORE_INDEX = 255;

    private final Graph step;
    private final Graph optimizer;
    private final Value image;
    private final Value label;
    private final Value lr;
    private final Value optimizerLr;
    private final Value loss;
    private final Value logits;
    private final Resize logitsUpsample;
    private final Map<Variable, Variable> gradients = new LinkedHashMap<>();
    private final Map<Variable, Variable> momenta = new LinkedHashMap<>();
    private final Variable lossScaleState;
    private final Distillation distill;

    /** The step with the default rewrites ({@link StepPasses#FUSED}: in-place BN, fused ReLU·dwconv, cheap-op recompute). */
    public TrainGraph(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate) {
        this(model, batch, height, width, sgd, accumulate, StepPasses.FUSED);
    }

    /** The step with the given rewrites ({@link StepPasses#NONE} for the plain traced graph). */
    public TrainGraph(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate,
                      StepPasses passes) {
        this(model, batch, height, width, sgd, accumulate, passes, null);
    }

    /** As above with per-class loss weights ({@code train.class_weights}; null for none). */
    public TrainGraph(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate,
                      StepPasses passes, float[] classWeights) {
        this(model, batch, height, width, sgd, accumulate, passes, classWeights, Precision.FP32, null);
    }

    /**
     * As above in {@code precision} (Note [Mixed precision]): the image input, and so every
     * activation and activation gradient, in its 16-bit type; with fp16, dynamic loss scaling (Note
     * [Dynamic loss scaling]); and distilled from a teacher ({@code train.distill}; null for none):
     * the teacher's eval forward first, then the student's, and {@code weight · KD} added to the loss
     * (Note [Distillation loss]).
     */
    public TrainGraph(DeepLabV3Plus model, int batch, int height, int width, OptimizerSettings sgd, int accumulate,
                      StepPasses passes, float[] classWeights, Precision precision, Distillation distill) {
        if (distill != null && precision != Precision.FP32) {
            throw new org.leanseg.config.ConfigException("train.distill: " + DISTILL_FP32_ONLY);
        }
        this.distill = distill;
        Graph step = new Graph();
        Value image = step.input("image", new TensorSpec(Shape.of(batch, 3, height, width), precision.activations()));
        Value label = step.input("label", TensorSpec.i32(batch, height, width));
        Value teacherLogits = distill == null ? null : distill.teacherLogits(step, image);
        DeepLabV3Plus.Output out = model.forward(new Trace(step, true), image);
        Value logits = out.logits();
        Resize upsample = logits.producer() != null && logits.producer().op() instanceof Resize r ? r : null;
        Value lowRes = upsample == null ? null : logits.producer().input(0);
        Value l;
        try (var s = step.scope("loss")) {
            SoftmaxCrossEntropy ce = new SoftmaxCrossEntropy(IGNORE_INDEX, classWeights);
            l = step.apply1(ce, logits, label);
            if (out.auxLogits() != null) {
                Value aux = step.apply1(ce, out.auxLogits(), label);
                l = step.apply1(new Add(), l, step.apply1(new Scale(AUX_WEIGHT), aux));
            }
            if (distill != null) {
                l = step.apply1(new Add(), l, distill.loss(step, distill.compared(logits), teacherLogits, label));
            }
        }
        Value loss = l;
        step.markOutput(loss);
        Rebuild.Result fused = passes.beforeAutograd(step);
        if (fused != null) {
            step = fused.graph();
            image = fused.get(image);
            label = fused.get(label);
            if (upsample != null && !fused.map().containsKey(logits)) {
                logits = fused.get(lowRes); // the fused loss (Note [Fused upsample loss]): no full-resolution logits
            } else {
                logits = fused.get(logits);
                upsample = null;
            }
            loss = fused.get(loss);
        } else {
            upsample = null;
        }
        ParamSet ps = model.params();
        momenta.putAll(momentumSlots(ps));
        List<Value> params = new ArrayList<>();
        for (Variable p : ps.parameters()) {
            params.add(step.variable(p));
        }
        Value scaled = loss;
        if (accumulate > 1) {
            try (var s = step.scope("loss")) {
                scaled = step.apply1(new Scale(1f / accumulate), loss);
            }
        }
        this.lossScaleState = precision.lossScaling() ? lossScaleState(ps) : null;
        Map<Value, Value> grads;
        if (lossScaleState != null) {
            Value seed;
            try (var ph = step.phase(Phase.BACKWARD); var s = step.stage(scaled.stage())) {
                seed = step.apply1(new LossScale(), step.variable(lossScaleState));
            }
            grads = Autograd.vjp(step, Map.of(scaled, seed), params);
        } else {
            grads = Autograd.gradients(step, scaled, params);
        }
        Value lr;
        if (accumulate > 1) {
            for (Variable p : ps.parameters()) {
                gradients.put(p, ps.slot("grad", p, Role.GRADIENT));
            }
            Autograd.accumulate(step, grads, gradients);
            lr = null;
            optimizer = new Graph();
            optimizerLr = optimizer.input("lr", TensorSpec.f32(sgd.hyperSize()));
            appendSgd(optimizer, ps, sgd, optimizerLr, p -> optimizer.variable(gradients.get(p)), true);
        } else {
            lr = step.input("lr", TensorSpec.f32(sgd.hyperSize()));
            optimizer = null;
            optimizerLr = null;
            Map<Variable, Value> byVar = new IdentityHashMap<>();
            grads.forEach((k, v) -> byVar.put(k.variable(), v));
            appendSgd(step, ps, sgd, lr, byVar::get, false);
        }
        Rebuild.Result recomputed = passes.afterAutograd(step);
        if (recomputed != null) {
            step = recomputed.graph();
            image = recomputed.get(image);
            label = recomputed.get(label);
            logits = recomputed.get(logits);
            loss = recomputed.get(loss);
            lr = lr == null ? null : recomputed.get(lr);
        }
        this.step = step;
        this.image = image;
        this.label = label;
        this.logits = logits;
        this.logitsUpsample = upsample;
        this.loss = loss;
        this.lr = lr;
    }

    /** Why a distilled step is fp32 only: its KL op (Note [Distillation loss]) takes f32 logits, with no 16-bit kernel yet. */
    public static final String DISTILL_FP32_ONLY = "distillation runs in fp32 only for now (its KL op has no 16-bit kernel); "
            + "set train.precision fp32 (--precision fp32)";

    /** The loss-scaling state of a model's fp16 steps (Note [Dynamic loss scaling]): zero in a new store. */
    public static Variable lossScaleState(ParamSet ps) {
        return ps.state(LOSS_SCALE_KEY, LossScale.STATE, Role.BUFFER);
    }

    /** The loss-scaling state's checkpoint key. */
    public static final String LOSS_SCALE_KEY = "loss_scale/state";

    /**
     * {@link #optimizerState(ParamSet, OptimizerSettings)} and, for an fp16 step, the loss-scaling
     * state ({@link #LOSS_SCALE_KEY}): what a checkpoint saves besides the model's own tensors.
     */
    public static Map<String, Variable> optimizerState(ParamSet ps, OptimizerSettings settings, Precision precision) {
        Map<String, Variable> m = optimizerState(ps, settings);
        if (precision.lossScaling()) {
            m.put(LOSS_SCALE_KEY, lossScaleState(ps));
        }
        return m;
    }

    /**
     * The optimizer's persistent state by checkpoint key: {@code optimizer/momentum/<param>} (SGD
     * momentum, AdamW's first moment) and, for AdamW, {@code optimizer/adam_v/<param>}.
     */
    public static Map<String, Variable> optimizerState(ParamSet ps, OptimizerSettings settings) {
        Map<String, Variable> m = new LinkedHashMap<>();
        for (Variable p : ps.parameters()) {
            m.put("optimizer/momentum/" + p.name(), ps.slot("momentum", p, Role.OPTIMIZER_STATE));
        }
        if (settings.isAdamW()) {
            for (Variable p : ps.parameters()) {
                m.put("optimizer/adam_v/" + p.name(), ps.slot("adam_v", p, Role.OPTIMIZER_STATE));
            }
        }
        return m;
    }

    /** Each parameter's SGD momentum variable (shared by every graph of the model). */
    public static Map<Variable, Variable> momentumSlots(ParamSet ps) {
        Map<Variable, Variable> m = new LinkedHashMap<>();
        for (Variable p : ps.parameters()) {
            m.put(p, ps.slot("momentum", p, Role.OPTIMIZER_STATE));
        }
        return m;
    }

    private interface GradSource {
        Value grad(Variable p);
    }

    private void appendSgd(Graph g, ParamSet ps, OptimizerSettings sgd, Value lrValue, GradSource grads, boolean zeroGrad) {
        try (var ph = g.phase(Phase.OPTIMIZER)) {
            List<Value> scaling = lossScaleState == null ? List.of() : lossScaling(g, ps, grads);
            for (ParamSet.Entry e : ps.entries()) {
                Variable p = e.variable();
                if (p.role() != Role.PARAMETER) {
                    continue;
                }
                Value gr = grads.grad(p);
                if (gr == null) {
                    continue; // does not reach the loss (e.g. aux head at inference)
                }
                boolean decay = e.decay() || sgd.decayNormAndBias();
                float lrScale = (float) (p.name().startsWith("backbone.") ? sgd.backboneLrMult() : 1.0);
                float wd = decay ? (float) sgd.weightDecay() : 0f;
                Op update;
                List<Value> in = new ArrayList<>(List.of(g.variable(p), gr, g.variable(momenta.get(p))));
                if (sgd.isAdamW()) {
                    OptimizerSettings.Adam a = sgd.adam();
                    update = new AdamW((float) a.beta1(), (float) a.beta2(), (float) a.eps(), wd, lrScale, zeroGrad);
                    in.add(g.variable(ps.slot("adam_v", p, Role.OPTIMIZER_STATE)));
                } else {
                    update = new Sgd((float) sgd.momentum(), sgd.nesterov(), wd, lrScale, zeroGrad);
                }
                in.add(lrValue);
                if (!scaling.isEmpty()) {
                    update = new LossScaled(update);
                    in.addAll(scaling);
                }
                try (var st = g.stage(gr.stage())) {
                    g.apply(update, in.toArray(new Value[0]));
                }
            }
        }
    }

    /**
     * Note [Dynamic loss scaling]: the scale the gradients carry, then the inf/NaN check of every
     * gradient with the state's update; returns {scale, found} for the wrapped updates.
     */
    private List<Value> lossScaling(Graph g, ParamSet ps, GradSource grads) {
        List<Value> checked = new ArrayList<>();
        checked.add(g.variable(lossScaleState));
        for (Variable p : ps.parameters()) {
            if (grads.grad(p) != null) {
                checked.add(grads.grad(p));
            }
        }
        try (var st = g.stage("loss")) {
            Value scale = g.apply1(new LossScale(), g.variable(lossScaleState));
            Value found = g.apply1(new LossScaleUpdate(LossScaleUpdate.GROWTH_INTERVAL), checked.toArray(new Value[0]));
            return List.of(scale, found);
        }
    }

    /** The loss-scaling state variable of an fp16 step, else null. */
    public Variable lossScaleState() {
        return lossScaleState;
    }

    public Graph stepGraph() {
        return step;
    }

    /** The separate optimizer graph in accumulate mode, else null. */
    public Graph optimizerGraph() {
        return optimizer;
    }

    public Value image() {
        return image;
    }

    public Value label() {
        return label;
    }

    /** The learning-rate input of the graph that runs SGD. */
    public Value lr() {
        return lr != null ? lr : optimizerLr;
    }

    public Value loss() {
        return loss;
    }

    /**
     * The main head's logits as the step holds them: at full resolution, or with the fused loss
     * (Note [Fused upsample loss]) on the stride-4 grid, which {@link #logitsUpsample()} brings to
     * full resolution.
     */
    public Value logits() {
        return logits;
    }

    /** The resize from {@link #logits()} to full resolution when the step has no full-resolution logits, else null. */
    public Resize logitsUpsample() {
        return logitsUpsample;
    }

    /** The teacher the step distils from (its variables must be in the executor's store), or null. */
    public Distillation distillation() {
        return distill;
    }

    public Map<Variable, Variable> momenta() {
        return momenta;
    }

    public Map<Variable, Variable> gradientAccumulators() {
        return gradients;
    }
}
