package org.leanseg.ops.conv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.memory.Planner;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Note [16-bit cuDNN convolutions] without a GPU: how a 16-bit filter gradient is cut into chunks of images and what
 * each 16-bit convolution plans as workspace on cuda, with the untested 16-bit cells opted in (Note [Running untested
 * kernels]) and without (every 16-bit convolution then on float32 copies, Note [Widened 16-bit runs]).
 */
class ConvCudaSixteenBitPlanTest {
    @Test
    void filterGradientChunksDivideTheBatchAndFitTheirBudget() {
        for (int n : new int[] {1, 2, 7, 8, 16, 30}) {
            for (long per : new long[] {1_000, 3L << 20, 12L << 20, 40L << 20}) {
                int k = ConvCuda.filterChunkImages(n, per, per / 2);
                assertEquals(0, n % k, n + " images, chunk " + k);
                assertTrue(k == 1 || 4 * k * (per + per / 2) <= ConvCuda.FILTER_CHUNK_BYTES, n + " images of " + per + ": chunk " + k);
                assertTrue(k == n || 4 * (long) (k + 1) * (per + per / 2) > ConvCuda.FILTER_CHUNK_BYTES || n % (k + 1) != 0,
                        "the largest divisor that fits");
            }
        }
        assertEquals(16, ConvCuda.filterChunkImages(16, 1000, 1000), "small images: one chunk");
    }

    @Test
    void sixteenBitConvolutionsPlanTheirCopies() {
        Conv2d conv = new Conv2d(1, 1, 1, 1, 1, 1, 1);
        TensorSpec x = new TensorSpec(Shape.of(16, 256, 128, 128), DType.BF16);
        TensorSpec dy = new TensorSpec(Shape.of(16, 256, 128, 128), DType.BF16);
        TensorSpec w = TensorSpec.f32(256, 256, 3, 3);
        long limit = CudaBackend.WORKSPACE_LIMIT;
        long w16 = Planner.align(2L * w.shape().numel());
        String before = System.getProperty(Ops.UNTESTED_PROPERTY);
        try {
            System.setProperty(Ops.UNTESTED_PROPERTY, "cuda");
            assertEquals(w16 + limit, Ops.workspaceBytes(Device.CUDA, conv, List.of(x, w)), "forward: 16-bit weights, then cuDNN's");
            assertEquals(w16 + limit, Ops.workspaceBytes(Device.CUDA, new Conv2dBackwardData(conv, 128, 128), List.of(dy, w)));
            long per = 256L * 128 * 128;
            int k = ConvCuda.filterChunkImages(16, per, per);
            assertTrue(k < 16, "a chunk of the batch");
            assertEquals(2 * Planner.align(4L * k * per) + limit,
                    Ops.workspaceBytes(Device.CUDA, new Conv2dBackwardFilter(conv, 3, 3), List.of(x, dy)));
            // the classifier: a biased 1x1 convolution to 21 classes, on float32 copies by chunks of images
            Conv2d classifier = new Conv2d(1, 1, 0, 0, 1, 1, 1);
            TensorSpec wc = TensorSpec.f32(21, 256, 1, 1);
            long biased = Ops.workspaceBytes(Device.CUDA, classifier, List.of(x, wc, TensorSpec.f32(21)));
            long weights = Planner.align(2L * wc.shape().numel()) + Planner.align(4L * wc.shape().numel());
            assertTrue(biased > limit + weights && biased <= limit + weights + ConvCuda.FILTER_CHUNK_BYTES + 2 * Planner.align(1),
                    "one chunk's copies, not the batch's: " + biased);
            // a fused ReLU6-depthwise convolution and its filter gradient (kernels of their own: no cuDNN workspace)
            TensorSpec z = new TensorSpec(Shape.of(16, 96, 256, 256), DType.BF16);
            ActConv2d act = new ActConv2d(org.leanseg.ops.elementwise.Activation.Kind.RELU6, new Conv2d(1, 1, 1, 1, 1, 1, 96));
            long fused = Ops.workspaceBytes(Device.CUDA, act, List.of(z, TensorSpec.f32(96, 1, 3, 3)));
            assertTrue(fused > 0 && fused <= ConvCuda.FILTER_CHUNK_BYTES + 2 * Planner.align(1) + 4096, "fused forward: " + fused);
        } finally {
            if (before == null) {
                System.clearProperty(Ops.UNTESTED_PROPERTY);
            } else {
                System.setProperty(Ops.UNTESTED_PROPERTY, before);
            }
        }
        long copies = 2 * Planner.align(4L * x.shape().numel());
        long weights = w16 + Planner.align(4L * w.shape().numel());
        assertEquals(copies + weights + limit, Ops.workspaceBytes(Device.CUDA, conv, List.of(x, w)), "not opted in: float32 copies");
    }
}
