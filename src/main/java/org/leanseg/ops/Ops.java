package org.leanseg.ops;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.conv.ActDepthwiseConv2d;
import org.leanseg.ops.conv.ActDepthwiseConv2dBackwardFilter;
import org.leanseg.ops.conv.BiasGrad;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.conv.Conv2dBackwardFilter;
import org.leanseg.ops.elementwise.AccumulateInto;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Fill;
import org.leanseg.ops.elementwise.Scale;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.SoftmaxCrossEntropyBackward;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.BatchNormBackwardFromOutput;
import org.leanseg.ops.norm.BatchNormInPlace;
import org.leanseg.ops.norm.BatchNormEvalBackward;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;
import org.leanseg.ops.optim.AdamW;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.GlobalAvgPoolBackward;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;

/**
 * The op table: every op with its kernels, one line each (no reflection, no classpath scan).
 * {@code cuda} names the CUDA implementation once the cuda backend provides one.
 */
public final class Ops {
    private Ops() {
    }

    /** One row of the table. */
    public record Entry<O extends Op>(String names, String family, Class<O> type, RefKernel<O> reference, String cuda) {
        @SuppressWarnings("unchecked")
        void runReference(Op op, RefView[] in, RefView[] out) {
            reference.run((O) op, in, out);
        }
    }

    private static <O extends Op> Entry<O> op(String names, String family, Class<O> type, RefKernel<O> ref) {
        return new Entry<>(names, family, type, ref, null);
    }

    private static final List<Entry<?>> TABLE = List.of(
            // elementwise
            op("add", "elementwise", Add.class, Add::reference),
            op("scale", "elementwise", Scale.class, Scale::reference),
            op("fill", "elementwise", Fill.class, Fill::reference),
            op("accumulate_into", "elementwise", AccumulateInto.class, AccumulateInto::reference),
            op("relu, relu6", "elementwise", Activation.class, Activation::reference),
            op("relu_backward, relu6_backward", "elementwise", ActivationBackward.class, ActivationBackward::reference),
            // conv: OPS-CONV
            op("conv2d", "conv", Conv2d.class, Conv2d::reference),
            op("conv2d_backward_data", "conv", Conv2dBackwardData.class, Conv2dBackwardData::reference),
            op("conv2d_backward_filter", "conv", Conv2dBackwardFilter.class, Conv2dBackwardFilter::reference),
            op("conv2d_bias_grad", "conv", BiasGrad.class, BiasGrad::reference),
            op("relu_depthwise_conv2d, relu6_depthwise_conv2d", "conv", ActDepthwiseConv2d.class, ActDepthwiseConv2d::reference),
            op("relu_depthwise_conv2d_backward_filter, relu6_depthwise_conv2d_backward_filter", "conv",
                    ActDepthwiseConv2dBackwardFilter.class, ActDepthwiseConv2dBackwardFilter::reference),
            // norm: OPS-NORM
            op("batch_norm", "norm", BatchNorm.class, BatchNorm::reference),
            op("batch_norm_backward", "norm", BatchNormBackward.class, BatchNormBackward::reference),
            op("batch_norm_inplace", "norm", BatchNormInPlace.class, BatchNormInPlace::reference),
            op("batch_norm_backward_from_output", "norm", BatchNormBackwardFromOutput.class, BatchNormBackwardFromOutput::reference),
            op("batch_norm_eval_backward", "norm", BatchNormEvalBackward.class, BatchNormEvalBackward::reference),
            op("group_norm", "norm", GroupNorm.class, GroupNorm::reference),
            op("group_norm_backward", "norm", GroupNormBackward.class, GroupNormBackward::reference),
            // resize/pool/concat: OPS-SHAPE
            op("resize_bilinear", "shape", Resize.class, Resize::reference),
            op("resize_bilinear_backward", "shape", ResizeBackward.class, ResizeBackward::reference),
            op("global_avg_pool", "shape", GlobalAvgPool.class, GlobalAvgPool::reference),
            op("global_avg_pool_backward", "shape", GlobalAvgPoolBackward.class, GlobalAvgPoolBackward::reference),
            op("concat", "shape", Concat.class, Concat::reference),
            op("channel_slice", "shape", ChannelSlice.class, ChannelSlice::reference),
            // loss: OPS-LOSS
            op("softmax_cross_entropy", "loss", SoftmaxCrossEntropy.class, SoftmaxCrossEntropy::reference),
            op("softmax_cross_entropy_backward", "loss", SoftmaxCrossEntropyBackward.class, SoftmaxCrossEntropyBackward::reference),
            op("argmax", "loss", Argmax.class, Argmax::reference),
            // optimizer: OPS-OPTIM
            op("sgd", "optimizer", Sgd.class, Sgd::reference),
            op("adamw", "optimizer", AdamW.class, AdamW::reference)
    );

    private static final Map<Class<?>, Entry<?>> BY_TYPE = new IdentityHashMap<>();

    static {
        for (Entry<?> e : TABLE) {
            BY_TYPE.put(e.type(), e);
        }
    }

    public static List<Entry<?>> table() {
        return TABLE;
    }

    public static Entry<?> entry(Op op) {
        Entry<?> e = BY_TYPE.get(op.getClass());
        if (e == null) {
            throw new IllegalStateException("op " + op.name() + " (" + op.getClass().getName() + ") is not in the op table Ops.TABLE");
        }
        return e;
    }

    /** Runs {@code op} with its reference kernel. */
    public static void runReference(Op op, RefView[] in, RefView[] out) {
        entry(op).runReference(op, in, out);
    }
}
