package org.leanseg.train;

/**
 * SGD hyper-parameters and parameter groups: weight decay on conv weights always, on norm and
 * bias parameters only when {@code decayNormAndBias} (PyTorch's plain SGD decays everything, as
 * the oracle does; segmentation recipes usually exempt them); backbone parameters' learning rate
 * scaled by {@code backboneLrMult}.
 */
public record SgdSettings(double momentum, boolean nesterov, double weightDecay, boolean decayNormAndBias,
                          double backboneLrMult) {
    /** PyTorch's torch.optim.SGD(lr, momentum=0.9, weight_decay=1e-4) over every parameter. */
    public static SgdSettings pytorchDefault() {
        return new SgdSettings(0.9, false, 1e-4, true, 1.0);
    }
}
