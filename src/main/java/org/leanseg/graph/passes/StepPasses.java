package org.leanseg.graph.passes;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Variable;

/**
 * The rewrites a training step goes through, and their off switch ({@code --no-fuse}): before
 * autograd, in-place BN ({@link InPlaceBatchNorm}) then ReLU·depthwise fusion
 * ({@link FuseActivationDepthwise}); after autograd, cheap-op recomputation
 * ({@link RecomputeCheapOps}). {@code stockBatchNorm} lists the γ of BN layers that must keep their
 * input because the γ guard failed for them (Note [In-place BN backward]).
 *
 * <pre>{@code
 * Rebuild.Result r = StepPasses.FUSED.beforeAutograd(forwardGraph); // null when off
 * }</pre>
 */
public record StepPasses(boolean fuse, Set<Variable> stockBatchNorm) {
    public static final StepPasses FUSED = new StepPasses(true, Set.of());
    public static final StepPasses NONE = new StepPasses(false, Set.of());

    /**
     * The rewrites a backend runs. Every op the fused passes produce has a CUDA kernel now
     * (PassesTest.everyFusedStepOpHasACudaKernel) and the executor's γ guard reads device views, but the
     * fused kernels have not run on a GPU yet: CUDA stays on the plain graph until CudaOpsParityTest
     * (fused and aliased in-place cases) and CudaTrainStepTest.twoFusedTrainingStepsMatchReference
     * pass on one; then return FUSED for "cuda" too.
     */
    public static StepPasses forBackend(String backendName) {
        return "reference".equals(backendName) ? FUSED : NONE;
    }

    public StepPasses {
        stockBatchNorm = Set.copyOf(stockBatchNorm);
    }

    /** The same passes with BN layers of {@code gammas} also left stock. */
    public StepPasses withStockBatchNorm(Set<Variable> gammas) {
        java.util.Set<Variable> all = new java.util.HashSet<>(stockBatchNorm);
        all.addAll(gammas);
        return new StepPasses(fuse, all);
    }

    /** Rewrites a traced forward (and loss) graph; null when there is nothing to do. */
    public Rebuild.Result beforeAutograd(Graph g) {
        if (!fuse) {
            return null;
        }
        Rebuild.Result bn = InPlaceBatchNorm.apply(g, stockBatchNorm);
        return Rebuild.compose(bn, FuseActivationDepthwise.apply(bn.graph()));
    }

    /** Rewrites the whole step graph (forward, backward, optimizer); null when there is nothing to do. */
    public Rebuild.Result afterAutograd(Graph g) {
        return fuse ? RecomputeCheapOps.apply(g) : null;
    }
}
