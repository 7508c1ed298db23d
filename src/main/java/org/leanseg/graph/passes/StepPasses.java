package org.leanseg.graph.passes;

import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Variable;
import org.leanseg.ops.Device;
import org.leanseg.ops.Op;
import org.leanseg.ops.Ops;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.BatchNormBackwardThroughConv;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;

/**
 * The rewrites a training step goes through, and their off switch ({@code --no-fuse}): before
 * autograd, in-place BN and GN ({@link InPlaceVariants}), then resize → cross-entropy into the fused
 * upsample loss ({@link FuseUpsampleCrossEntropy}), then convolutions over a concat by parts
 * ({@link ConvOverConcatParts}), then ReLU·depthwise fusion and, with {@code nativeOnly}, ReLU·dense
 * convolution fusion ({@link FuseActivationConv}); after autograd, activation backwards reading their
 * input where backward keeps it ({@link ActivationMaskFromInput}, when fused), one {@link Recompute} of
 * what the recompute policy ({@code recompute}, with or without fusion) chooses on top of the
 * cheap-op choice ({@link RecomputeCheapOps}, when fused), then, with {@code updatesInBackward}
 * (on in FUSED and NONE: it changes no bit, Note [Updates in backward]), backward ops whose large
 * output is read much later moved to that reader ({@link LateGradients}, Note [Late gradients]: no bit
 * changes either) and each optimizer update moved to right after its gradient ({@link UpdatesInBackward}). {@code stockBatchNorm} lists the γ of BN
 * and GN layers that must keep their input because the γ guard failed for them (Note [In-place BN
 * backward], Note [In-place GN backward]). CUDA's fused kernels have not run on a GPU (untested
 * in the Ops table), so {@link #forDevice} keeps CUDA unfused until they have.
 *
 * <pre>{@code
 * StepPasses p = StepPasses.FUSED.withRecompute(RecomputePolicy.parse("stages"));
 * Rebuild.Result r = p.beforeAutograd(forwardGraph); // null when off
 * }</pre>
 */
public record StepPasses(boolean fuse, Set<Variable> stockBatchNorm, RecomputeChoice recompute, boolean updatesInBackward,
                         boolean nativeOnly) {
    public static final StepPasses FUSED = new StepPasses(true, Set.of(), RecomputeChoice.NONE, true, true);
    public static final StepPasses NONE = new StepPasses(false, Set.of(), RecomputeChoice.NONE, true, false);

    /**
     * The op variants the fused rewrites put into a step, one of each (attributes other than the
     * variant's do not matter to the table): a device runs those rewrites only if it runs all of these.
     */
    static final List<Op> FUSED_OPS = fusedOps();

    private static List<Op> fusedOps() {
        Conv2d depthwise = Conv2d.of(1, 1, 1, 8);
        Activation.Kind[] acts = {Activation.Kind.RELU, Activation.Kind.RELU6};
        List<Op> ops = new java.util.ArrayList<>(List.of(BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE),
                BatchNormBackward.of(BatchNormBackward.Source.Y), BatchNorm.of(BatchNorm.Mode.REPLAY),
                new GroupNorm(1, 1e-5, true), new GroupNormBackward(1, GroupNormBackward.Source.Y)));
        ops.add(new UpsampleSoftmaxCrossEntropy(8, 8, false, 255, null));
        ops.add(new UpsampleSoftmaxCrossEntropyBackward(8, 8, false, 255, null));
        for (Activation.Kind act : acts) {
            ops.add(new ActConv2d(act, depthwise));
            ops.add(new ActConv2dBackwardFilter(act, new Conv2dBackwardFilter(depthwise, 3, 3)));
        }
        return List.copyOf(ops);
    }

    /**
     * The variants the {@code nativeOnly} rewrites put into a fused step (Note [Activation into a
     * dense convolution]): worth it only where a device runs them with its own kernel, since a host
     * fallback copies whole tensors and would take more memory than the rewrite saves.
     */
    static final List<Op> NATIVE_ONLY_OPS = nativeOnlyOps();

    private static List<Op> nativeOnlyOps() {
        Conv2d dense = Conv2d.of(1, 1, 1, 1);
        List<Op> ops = new java.util.ArrayList<>();
        ops.add(new Conv2dBackwardData(dense, 8, 8).overItsInput());
        ops.add(new BatchNormBackwardThroughConv(Activation.Kind.RELU));
        ops.add(new BatchNormBackwardThroughConv(Activation.Kind.RELU6));
        for (Activation.Kind act : new Activation.Kind[] {Activation.Kind.RELU, Activation.Kind.RELU6}) {
            ops.add(new ActConv2d(act, dense));
            ops.add(new ActConv2dBackwardFilter(act, new Conv2dBackwardFilter(dense, 3, 3)));
        }
        return List.copyOf(ops);
    }

    /**
     * The rewrites a device runs, derived from the op table: FUSED when the device runs every op the
     * fused rewrites introduce ({@link #FUSED_OPS}; {@link Ops#runs}: a kernel checked against the
     * reference there, or the device's host fallback), else NONE. CUDA's fused kernels are in the
     * table as untested (never run on a GPU yet), so CUDA stays on the plain graph until they pass
     * there (CudaOpsParityTest, CudaTrainStepTest.twoFusedTrainingStepsMatchReference) and their
     * cells are marked tested.
     */
    public static StepPasses forDevice(Device<?, ?> device) {
        for (Op op : FUSED_OPS) {
            if (!Ops.runs(device, op)) {
                return NONE;
            }
        }
        for (Op op : NATIVE_ONLY_OPS) {
            if (Ops.status(device, op) != Ops.Status.YES) {
                return FUSED.withNativeOnly(false);
            }
        }
        return FUSED;
    }

    /** {@link #forDevice} for a backend's name ({@link org.leanseg.backend.Backend#name()}). */
    public static StepPasses forBackend(String backendName) {
        return forDevice(Device.of(backendName));
    }

    public StepPasses {
        stockBatchNorm = Set.copyOf(stockBatchNorm);
        if (recompute == null) {
            throw new IllegalArgumentException("recompute choice is null; use RecomputeChoice.NONE");
        }
    }

    /** The same passes with BN or GN layers of {@code gammas} also left stock. */
    public StepPasses withStockBatchNorm(Set<Variable> gammas) {
        Set<Variable> all = new HashSet<>(stockBatchNorm);
        all.addAll(gammas);
        return new StepPasses(fuse, all, recompute, updatesInBackward, nativeOnly);
    }

    /** The same passes with another recompute policy. */
    public StepPasses withRecompute(RecomputeChoice policy) {
        return new StepPasses(fuse, stockBatchNorm, policy, updatesInBackward, nativeOnly);
    }

    /**
     * The same passes with the optimizer updates (and gradient accumulations) moved into backward
     * or left after it (Note [Updates in backward]; both compute the same bits, only memory differs).
     */
    public StepPasses withUpdatesInBackward(boolean on) {
        return new StepPasses(fuse, stockBatchNorm, recompute, on, nativeOnly);
    }

    /**
     * The same passes with or without the rewrites that need a device's own kernels ({@link #NATIVE_ONLY_OPS}:
     * activations into dense convolutions); {@link #forDevice} turns them off where a kernel is missing.
     */
    public StepPasses withNativeOnly(boolean on) {
        return new StepPasses(fuse, stockBatchNorm, recompute, updatesInBackward, on);
    }

    /** Rewrites a traced forward (and loss) graph; null when there is nothing to do. */
    public Rebuild.Result beforeAutograd(Graph g) {
        if (!fuse) {
            return null;
        }
        Rebuild.Result inPlace = InPlaceVariants.apply(g, stockBatchNorm);
        Rebuild.Result loss = Rebuild.compose(inPlace, FuseUpsampleCrossEntropy.apply(inPlace.graph()));
        Rebuild.Result parts = Rebuild.compose(loss, ConvOverConcatParts.apply(loss.graph()));
        // after the concat split, so that the ASPP branches' and the decoder's activations meet their convolutions
        return Rebuild.compose(parts, FuseActivationConv.apply(parts.graph(), nativeOnly));
    }

    /** Rewrites the whole step graph (forward, backward, optimizer); null when there is nothing to do. */
    public Rebuild.Result afterAutograd(Graph g) {
        Rebuild.Result masks = fuse ? ActivationMaskFromInput.apply(g) : null;
        if (masks != null && nativeOnly) {
            masks = Rebuild.compose(masks, BatchNormBackwardThroughConvFusion.apply(masks.graph()));
        }
        Graph step = masks == null ? g : masks.graph();
        Set<Node> base = fuse ? RecomputeCheapOps.choose(step) : Set.of();
        Set<Node> chosen = recompute.choose(step, Collections.unmodifiableSet(base), this::rewrite);
        if (!fuse && chosen.isEmpty() && !updatesInBackward) {
            return null;
        }
        Rebuild.Result r = rewrite(step, chosen);
        return masks == null ? r : Rebuild.compose(masks, r);
    }

    /** The step with {@code chosen} recomputed, then its updates moved into backward when on ({@link RecomputeChoice.Rewrite}). */
    private Rebuild.Result rewrite(Graph g, Set<Node> chosen) {
        Rebuild.Result recomputed = Recompute.apply(g, chosen);
        if (!updatesInBackward) {
            return fuse && nativeOnly ? Rebuild.compose(recomputed, DataGradientsInPlace.apply(recomputed.graph())) : recomputed;
        }
        // Note [Late gradients] before the updates, so that an update still follows every reader of its weight
        Rebuild.Result late = Rebuild.compose(recomputed, LateGradients.apply(recomputed.graph()));
        Rebuild.Result updates = Rebuild.compose(late, UpdatesInBackward.apply(late.graph()));
        return fuse && nativeOnly ? Rebuild.compose(updates, DataGradientsInPlace.apply(updates.graph())) : updates;
    }
}
