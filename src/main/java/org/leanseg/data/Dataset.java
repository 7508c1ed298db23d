package org.leanseg.data;

import java.util.List;
import java.util.SplittableRandom;
import org.leanseg.tensor.Tensor;

/**
 * A segmentation dataset as the trainer and evaluator see it: indexed samples of a normalised
 * image f32 [3, H, W] and a label i32 [H, W] (class indices, 255 = ignore). A training dataset
 * returns samples of one fixed size (its crop size) so they stack into a batch; augmentation
 * draws only from the {@code rnd} it is given, so (seed, epoch, index) fix every sample and a
 * resumed run sees exactly the data an uninterrupted one would.
 */
public interface Dataset {
    /** One sample; {@code id} names it in errors and outputs (file stem or "synthetic/val/17"). */
    record Sample(Tensor image, Tensor label, String id) {
    }

    int size();

    /** How images are normalised (checkpoints record it for prediction); ImageNet's unless a dataset differs. */
    default Normalization normalization() {
        return Normalization.imagenet();
    }

    int numClasses();

    List<String> classNames();

    /**
     * Sample {@code index}; {@code rnd} drives augmentation (null: none, e.g. for evaluation).
     * Thread-safe: loader threads call it concurrently.
     */
    Sample get(int index, SplittableRandom rnd);
}
