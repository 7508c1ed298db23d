package org.leanseg.train;

/**
 * Optimizer hyper-parameters and parameter groups: SGD (momentum, Nesterov) or, when
 * {@code adam} is set, AdamW (PyTorch semantics, decoupled weight decay). Weight decay applies to
 * conv weights always and to norm and bias parameters only when {@code decayNormAndBias}
 * (PyTorch's plain SGD decays everything, as the oracle does; segmentation recipes usually exempt
 * them); backbone parameters' learning rate is scaled by {@code backboneLrMult}.
 */
public record OptimizerSettings(double momentum, boolean nesterov, double weightDecay, boolean decayNormAndBias,
                                double backboneLrMult, Adam adam) {
    /** AdamW's betas and epsilon. */
    public record Adam(double beta1, double beta2, double eps) {
    }

    /** SGD. */
    public OptimizerSettings(double momentum, boolean nesterov, double weightDecay, boolean decayNormAndBias, double backboneLrMult) {
        this(momentum, nesterov, weightDecay, decayNormAndBias, backboneLrMult, null);
    }

    /** PyTorch's torch.optim.SGD(lr, momentum=0.9, weight_decay=1e-4) over every parameter. */
    public static OptimizerSettings pytorchDefault() {
        return new OptimizerSettings(0.9, false, 1e-4, true, 1.0);
    }

    public boolean isAdamW() {
        return adam != null;
    }

    /** Elements of the graph's runtime "lr" input: [lr] for SGD, [lr, 1-beta1^t, 1-beta2^t] for AdamW. */
    public int hyperSize() {
        return adam == null ? 1 : 3;
    }

    /** The runtime "lr" input for optimizer step {@code t} (1-based) at learning rate {@code lr}. */
    public float[] hyper(double lr, long t) {
        return adam == null ? new float[] {(float) lr}
                : org.leanseg.ops.optim.AdamW.hyper(lr, adam.beta1(), adam.beta2(), t);
    }
}
