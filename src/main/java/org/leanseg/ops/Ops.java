package org.leanseg.ops;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.backend.View;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.conv.ActDepthwiseConv2d;
import org.leanseg.ops.conv.ActDepthwiseConv2dBackwardFilter;
import org.leanseg.ops.conv.ConvCuda;
import org.leanseg.ops.elementwise.ElementwiseCuda;
import org.leanseg.ops.loss.LossCuda;
import org.leanseg.ops.norm.NormCuda;
import org.leanseg.ops.optim.AdamWCuda;
import org.leanseg.ops.optim.SgdCuda;
import org.leanseg.ops.shape.ShapeCuda;
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
import org.leanseg.ops.norm.BatchNormReplay;
import org.leanseg.ops.norm.BatchNormEvalBackward;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;
import org.leanseg.ops.norm.GroupNormBackwardFromOutput;
import org.leanseg.ops.norm.GroupNormInPlace;
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
 * {@code cuda} is the CUDA binding (our kernels or cuDNN), null where none exists yet.
 * {@link #run} dispatches by the backend's name.
 */
public final class Ops {
    private Ops() {
    }

    /** One row of the table. */
    public record Entry<O extends Op>(String names, String family, Class<O> type, RefKernel<O> reference, CudaKernel<O> cuda) {
        @SuppressWarnings("unchecked")
        void runReference(Op op, RefView[] in, RefView[] out) {
            reference.run((O) op, in, out);
        }

        @SuppressWarnings("unchecked")
        void runCuda(Op op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
            if (cuda == null) {
                throw new OpException(op.name() + " has no CUDA kernel yet (Ops table); run it on the reference backend");
            }
            cuda.run((O) op, gpu, in, out);
        }
    }

    private static <O extends Op> Entry<O> op(String names, String family, Class<O> type, RefKernel<O> ref, CudaKernel<O> cuda) {
        return new Entry<>(names, family, type, ref, cuda);
    }

    private static final List<Entry<?>> TABLE = List.of(
            // elementwise
            op("add", "elementwise", Add.class, Add::reference, ElementwiseCuda::add),
            op("scale", "elementwise", Scale.class, Scale::reference, ElementwiseCuda::scale),
            op("fill", "elementwise", Fill.class, Fill::reference, ElementwiseCuda::fill),
            op("accumulate_into", "elementwise", AccumulateInto.class, AccumulateInto::reference, ElementwiseCuda::accumulate),
            op("relu, relu6", "elementwise", Activation.class, Activation::reference, ElementwiseCuda::activation),
            op("relu_backward, relu6_backward", "elementwise", ActivationBackward.class, ActivationBackward::reference, ElementwiseCuda::activationBackward),
            // conv: OPS-CONV
            op("conv2d", "conv", Conv2d.class, Conv2d::reference, ConvCuda::forward),
            op("conv2d_backward_data", "conv", Conv2dBackwardData.class, Conv2dBackwardData::reference, ConvCuda::backwardData),
            op("conv2d_backward_filter", "conv", Conv2dBackwardFilter.class, Conv2dBackwardFilter::reference, ConvCuda::backwardFilter),
            op("conv2d_bias_grad", "conv", BiasGrad.class, BiasGrad::reference, ConvCuda::biasGrad),
            op("relu_depthwise_conv2d, relu6_depthwise_conv2d", "conv", ActDepthwiseConv2d.class, ActDepthwiseConv2d::reference, ConvCuda::actDepthwiseForward),
            op("relu_depthwise_conv2d_backward_filter, relu6_depthwise_conv2d_backward_filter", "conv",
                    ActDepthwiseConv2dBackwardFilter.class, ActDepthwiseConv2dBackwardFilter::reference, ConvCuda::actDepthwiseBackwardFilter),
            // norm: OPS-NORM
            op("batch_norm", "norm", BatchNorm.class, BatchNorm::reference, NormCuda::batchNorm),
            op("batch_norm_backward", "norm", BatchNormBackward.class, BatchNormBackward::reference, NormCuda::batchNormBackward),
            op("batch_norm_replay", "norm", BatchNormReplay.class, BatchNormReplay::reference, NormCuda::batchNormReplay),
            op("batch_norm_inplace", "norm", BatchNormInPlace.class, BatchNormInPlace::reference, NormCuda::batchNormInPlace),
            op("batch_norm_backward_from_output", "norm", BatchNormBackwardFromOutput.class, BatchNormBackwardFromOutput::reference, NormCuda::batchNormBackwardFromOutput),
            op("batch_norm_eval_backward", "norm", BatchNormEvalBackward.class, BatchNormEvalBackward::reference, NormCuda::batchNormEvalBackward),
            op("group_norm", "norm", GroupNorm.class, GroupNorm::reference, NormCuda::groupNorm),
            op("group_norm_backward", "norm", GroupNormBackward.class, GroupNormBackward::reference, NormCuda::groupNormBackward),
            op("group_norm_inplace", "norm", GroupNormInPlace.class, GroupNormInPlace::reference, null),
            op("group_norm_backward_from_output", "norm", GroupNormBackwardFromOutput.class, GroupNormBackwardFromOutput::reference, null),
            // resize/pool/concat: OPS-SHAPE
            op("resize_bilinear", "shape", Resize.class, Resize::reference, ShapeCuda::resize),
            op("resize_bilinear_backward", "shape", ResizeBackward.class, ResizeBackward::reference, ShapeCuda::resizeBackward),
            op("global_avg_pool", "shape", GlobalAvgPool.class, GlobalAvgPool::reference, ShapeCuda::globalAvgPool),
            op("global_avg_pool_backward", "shape", GlobalAvgPoolBackward.class, GlobalAvgPoolBackward::reference, ShapeCuda::globalAvgPoolBackward),
            op("concat", "shape", Concat.class, Concat::reference, ShapeCuda::concat),
            op("channel_slice", "shape", ChannelSlice.class, ChannelSlice::reference, ShapeCuda::channelSlice),
            // loss: OPS-LOSS
            op("softmax_cross_entropy", "loss", SoftmaxCrossEntropy.class, SoftmaxCrossEntropy::reference, LossCuda::crossEntropy),
            op("softmax_cross_entropy_backward", "loss", SoftmaxCrossEntropyBackward.class, SoftmaxCrossEntropyBackward::reference, LossCuda::crossEntropyBackward),
            op("argmax", "loss", Argmax.class, Argmax::reference, LossCuda::argmax),
            // optimizer: OPS-OPTIM
            op("sgd", "optimizer", Sgd.class, Sgd::reference, SgdCuda::run),
            op("adamw", "optimizer", AdamW.class, AdamW::reference, AdamWCuda::run)
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

    /**
     * Runs {@code op} on {@code backend}'s views with that backend's kernel: "reference" views are
     * {@link RefView}s, "cuda" views {@link CudaView}s (enqueued on the backend's stream).
     */
    public static void run(Backend backend, Op op, View[] in, View[] out) {
        switch (backend.name()) {
            case "reference" -> ((ReferenceBackend) backend).run(() ->
                    runReference(op, cast(in, RefView.class, new RefView[in.length]), cast(out, RefView.class, new RefView[out.length])));
            case "cuda" -> entry(op).runCuda(op, (CudaBackend) backend,
                    cast(in, CudaView.class, new CudaView[in.length]), cast(out, CudaView.class, new CudaView[out.length]));
            default -> throw new IllegalArgumentException("no kernels for backend '" + backend.name() + "'");
        }
    }

    private static <V extends View> V[] cast(View[] views, Class<V> type, V[] into) {
        for (int i = 0; i < views.length; i++) {
            into[i] = type.cast(views[i]);
        }
        return into;
    }

    /** Runs {@code op} with its reference kernel. */
    public static void runReference(Op op, RefView[] in, RefView[] out) {
        entry(op).runReference(op, in, out);
    }
}
