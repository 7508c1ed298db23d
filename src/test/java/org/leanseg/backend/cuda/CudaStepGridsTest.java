package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.Device;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;
import org.leanseg.ops.shape.ShapeCuda;
import org.leanseg.profile.StepPlan;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.train.OptimizerSettings;

/**
 * The kernels written for bandwidth must be the ones the real steps launch: for every depthwise convolution (plain and
 * fused, forward, data and filter gradient), fused loss and resize of the cuda training steps of both models (the
 * plain step cuda runs today and the fused one, at 512x512 batch 8 and 1024x2048 batch 1), the grid the cuda binding
 * would launch exists (no silent fallback to cuDNN or the old kernels) and its arguments fit the kernel's PTX
 * signature. Plans only: no GPU needed.
 */
class CudaStepGridsTest {
    private static final long A = 1L << 20;   // any device address

    private static List<Node> step(String model, int batch, int h, int w, StepPasses passes) {
        return StepPlan.of(ModelConfig.of(model), batch, h, w, passes, OptimizerSettings.pytorchDefault(), 1, Device.CUDA).train()
                .stepGraph().nodes();
    }

    private static Shape in(Node n, int i) {
        return n.input(i).spec().shape();
    }

    private static String check(String kernel, Object[] args) {
        return KernelSignatures.builtIn().check(kernel, args);
    }

    @Test
    void realStepsLaunchTheTiledKernels() {
        List<String> missing = new ArrayList<>();
        int depthwise = 0;
        int losses = 0;
        int resizes = 0;
        for (Object[] c : new Object[][] {{"deeplabv3plus_mobilenetv2", 8, 512, 512}, {"deeplabv3plus_xception65", 1, 1024, 2048}}) {
            for (StepPasses passes : new StepPasses[] {StepPasses.NONE, StepPasses.FUSED.withNativeOnly(false)}) {
                for (Node n : step((String) c[0], (int) c[1], (int) c[2], (int) c[3], passes)) {
                    String at = c[0] + " " + n.op().name() + " " + n.stage();
                    Conv2d conv = n.op() instanceof Conv2d cv ? cv : n.op() instanceof ActConv2d a ? a.conv() : null;
                    if (conv != null && conv.groups() > 1) {
                        Shape x = in(n, 0);
                        Shape y = n.output(0).spec().shape();
                        Shape wt = in(n, 1);
                        DwGrid g = DwGrid.forward(x.dim(0), x.dim(1), wt.dim(0) / x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3), wt.dim(2),
                                wt.dim(3), conv.strideH(), conv.strideW(), conv.padH(), conv.padW(), conv.dilationH(), conv.dilationW(),
                                n.op() instanceof ActConv2d);
                        depthwise++;
                        if (g == null || check("ls_dw_forward_k", g.args(0f, A, A, A, A, 0)) != null) {
                            missing.add(at + " forward");
                        }
                    }
                    if (n.op() instanceof Conv2dBackwardData bd && bd.groups() > 1) {
                        Shape dy = in(n, 0);
                        Shape wt = in(n, 1);
                        Shape dx = n.output(0).spec().shape();
                        DwGrid g = DwGrid.backwardData(dx.dim(0), dx.dim(1), wt.dim(0) / dx.dim(1), dx.dim(2), dx.dim(3), dy.dim(2), dy.dim(3),
                                wt.dim(2), wt.dim(3), bd.strideH(), bd.strideW(), bd.padH(), bd.padW(), bd.dilationH(), bd.dilationW());
                        if (g == null || check("ls_dw_backward_data_k", g.args(A, A, A, 0)) != null) {
                            missing.add(at);
                        }
                    }
                    Conv2dBackwardFilter bf = n.op() instanceof Conv2dBackwardFilter f ? f
                            : n.op() instanceof ActConv2dBackwardFilter af ? af.filter() : null;
                    if (bf != null && bf.groups() > 1) {
                        Shape x = in(n, 0);
                        Shape dy = in(n, 1);
                        Shape dw = n.output(0).spec().shape();
                        DwGrid g = DwGrid.filter(x.dim(0), x.dim(1), dw.dim(0) / x.dim(1), x.dim(2), x.dim(3), dy.dim(2), dy.dim(3), dw.dim(2),
                                dw.dim(3), bf.strideH(), bf.strideW(), bf.padH(), bf.padW(), bf.dilationH(), bf.dilationW(),
                                n.op() instanceof ActConv2dBackwardFilter);
                        if (g == null || check("ls_dw_filter_k", g.args(0f, A, A, A, A, A, 0)) != null) {
                            missing.add(at);
                        }
                    }
                    if (n.op() instanceof UpsampleSoftmaxCrossEntropy l) {
                        Shape z = in(n, 0);
                        UpLossGrid g = UpLossGrid.of(z.dim(0), z.dim(1), z.dim(2), z.dim(3), l.outH(), l.outW(), l.alignCorners(), l.ignoreIndex());
                        losses++;
                        if (check("ls_up_ce_partial_k", g.args(A, A, A, A, A, 0)) != null) {
                            missing.add(at);
                        }
                    }
                    if (n.op() instanceof UpsampleSoftmaxCrossEntropyBackward l) {
                        Shape z = in(n, 0);
                        UpLossGrid g = UpLossGrid.of(z.dim(0), z.dim(1), z.dim(2), z.dim(3), l.outH(), l.outW(), l.alignCorners(), l.ignoreIndex());
                        if (check("ls_up_ce_backward_k", g.args(A, A, A, A, A, A, 0)) != null) {
                            missing.add(at);
                        }
                    }
                    if (n.op() instanceof Resize r) {
                        Shape x = in(n, 0);
                        resizes++;
                        if (!ShapeCuda.byRows((long) x.dim(0) * x.dim(1), x.dim(3), r.outW())) {
                            missing.add(at);
                        }
                    }
                    if (n.op() instanceof ResizeBackward r) {
                        Shape dy = in(n, 0);
                        if (!ShapeCuda.byRows((long) dy.dim(0) * dy.dim(1), r.inW(), dy.dim(3))) {
                            missing.add(at);
                        }
                    }
                }
            }
        }
        assertTrue(depthwise > 40 && losses == 2 && resizes > 4, depthwise + " depthwise convs, " + losses + " fused losses, " + resizes + " resizes");
        assertEquals(List.of(), missing, "ops of the real steps that would not take the new kernels");
    }
}
