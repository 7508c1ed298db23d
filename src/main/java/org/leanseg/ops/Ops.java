package org.leanseg.ops;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.backend.Backend;
import org.leanseg.backend.View;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.ActConv2dBackwardFilter;
import org.leanseg.ops.conv.ConvCpu;
import org.leanseg.ops.conv.ConvCuda;
import org.leanseg.ops.elementwise.ElementwiseCpu;
import org.leanseg.ops.elementwise.ElementwiseCuda;
import org.leanseg.ops.loss.LossCpu;
import org.leanseg.ops.loss.LossCuda;
import org.leanseg.ops.norm.NormCpu;
import org.leanseg.ops.norm.NormCuda;
import org.leanseg.ops.optim.AdamWCuda;
import org.leanseg.ops.optim.LossScaleCuda;
import org.leanseg.ops.optim.SgdCpu;
import org.leanseg.ops.optim.SgdCuda;
import org.leanseg.ops.shape.ShapeCpu;
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
import org.leanseg.ops.loss.DistillKl;
import org.leanseg.ops.loss.DistillKlBackward;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.SoftmaxCrossEntropyBackward;
import org.leanseg.ops.loss.UpsampleArgmax;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropyBackward;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.BatchNormBackwardThroughConv;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;
import org.leanseg.ops.optim.AdamW;
import org.leanseg.ops.optim.LossScale;
import org.leanseg.ops.optim.LossScaleUpdate;
import org.leanseg.ops.optim.LossScaled;
import org.leanseg.ops.optim.Sgd;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.GlobalAvgPoolBackward;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;

/**
 * The op table: one row per op, holding a kernel per device key ({@link Device}), like
 * {@code dispatch: CPU/CUDA} in PyTorch's native_functions.yaml (no reflection, no classpath scan).
 * A row is one op class; its names are the variants that class's attributes make
 * ({@link Op#name()}: {@code batch_norm, batch_norm_inplace, batch_norm_replay}), and a cell's kernel
 * dispatches on those attributes. A cell may declare the workspace its kernel needs (Note [cpu
 * workspace]), whether it has been checked on its device ({@code untested}: written and compiled,
 * never run against the reference there), for the whole row or for some variants, and variants it
 * does not cover ({@code without}). From the table follow a device's fallback
 * ({@link Device#fallback()}: ops without a cell) and which fusions it supports ({@link #runs}).
 * {@link #run} is the only dispatch.
 *
 * <pre>{@code
 * Ops.run(backend, op, in, out);             // the backend's kernel, or its device's fallback
 * Ops.runs(Device.CUDA, BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE)); // false: untested there
 * Ops.workspaceBytes(Device.CPU, op, specs); // what the plan counts for that kernel
 * }</pre>
 * Adding a backend: a {@link Device} constant and one {@code .on(DEVICE, kernel)} per op it implements.
 */
public final class Ops {
    private Ops() {
    }

    /** A kernel of op type {@code O} on one device: reads {@code in}, writes {@code out}, on {@code backend}. */
    @FunctionalInterface
    public interface Kernel<O extends Op, B extends Backend, V extends View> {
        void run(O op, B backend, V[] in, V[] out);
    }

    /** Scratch bytes a kernel needs for one run of {@code op} on inputs {@code in} (the plan's workspace). */
    @FunctionalInterface
    public interface Workspace<O extends Op> {
        long bytes(O op, List<TensorSpec> in);
    }

    /**
     * One cell: a device's kernel for a row, its workspace, the row's variants (op names) that have
     * not run against the reference there ({@code untested}), those the kernel does not cover
     * ({@code absent}: for them the device's fallback applies), and the 16-bit types whose views it
     * takes ({@code halfTypes}, Note [Mixed precision]; a run with a 16-bit view of another type takes
     * the fallback too), of which those not yet run against the reference on the device ({@code untestedHalf}:
     * taken only under Note [Running untested kernels], else the fallback runs them). Every reference cell
     * takes both: it rounds what it stores.
     */
    public record Cell<O extends Op>(Device<?, ?> device, Kernel<O, ?, ?> kernel, Workspace<O> workspace, Set<String> untested,
                                     Set<String> absent, Set<DType> halfTypes, Set<DType> untestedHalf) {
        public Cell {
            untested = Set.copyOf(untested);
            absent = Set.copyOf(absent);
            halfTypes = Set.copyOf(halfTypes);
            untestedHalf = Set.copyOf(untestedHalf);
        }

        /** Whether the kernel takes views of 16-bit type {@code t} (always true for 32-bit types). */
        public boolean takes(DType t) {
            return !t.isHalf() || halfTypes.contains(t) && (!untestedHalf.contains(t) || untestedAllowed(device));
        }

        /** Whether the kernel covers variant {@code name}. */
        public boolean covers(String name) {
            return !absent.contains(name);
        }

        /** Whether variant {@code name} has run against the reference on this device. */
        public boolean tested(String name) {
            return covers(name) && !untested.contains(name);
        }
    }

    /** One row of the table: an op type (one or more names), its family and its kernels by device. */
    public static final class Entry<O extends Op> {
        private final String names;
        private final List<String> variants;
        private final String family;
        private final Class<O> type;
        private final Map<Device<?, ?>, Cell<O>> cells = new LinkedHashMap<>();
        private RefKernel<O> reference;

        Entry(String names, String family, Class<O> type) {
            this.names = names;
            this.variants = List.of(names.split(",\\s*"));
            this.family = family;
            this.type = type;
        }

        /**
         * The reference kernel (measured for heap scratch by the reference backend), which computes in
         * float32; what it writes to 16-bit views is rounded on store (Note [Mixed precision]).
         */
        Entry<O> ref(RefKernel<O> k) {
            reference = k;
            Kernel<O, ReferenceBackend, RefView> metered = (op, b, in, out) -> b.run(() -> {
                k.run(op, in, out);
                roundStored(op, in, out);   // inside the kernel: a captured step replays it too (Note [Whole-step graphs])
            });
            return put(Device.REFERENCE, metered, Op::workspaceBytes, Set.of(), HALF_TYPES);
        }

        <B extends Backend, V extends View> Entry<O> on(Device<B, V> d, Kernel<O, B, V> k) {
            return put(d, k, (op, in) -> 0L, Set.of(), Set.of());
        }

        <B extends Backend, V extends View> Entry<O> on(Device<B, V> d, Kernel<O, B, V> k, Workspace<O> ws) {
            return put(d, k, ws, Set.of(), Set.of());
        }

        /** {@code d}'s kernel also takes views of these 16-bit types (Note [Mixed precision]). */
        Entry<O> half(Device<?, ?> d, DType... types) {
            Cell<O> c = existing(d);
            Set<DType> t = new java.util.HashSet<>(c.halfTypes());
            t.addAll(List.of(types));
            cells.put(d, new Cell<>(d, c.kernel(), c.workspace(), c.untested(), c.absent(), t, c.untestedHalf()));
            return this;
        }

        /**
         * {@code d}'s kernel also takes views of these 16-bit types, but has not run on them against the reference
         * there: they run only under Note [Running untested kernels]; otherwise the device's fallback runs such views.
         */
        Entry<O> halfUntested(Device<?, ?> d, DType... types) {
            half(d, types);
            Cell<O> c = existing(d);
            Set<DType> u = new java.util.HashSet<>(c.untestedHalf());
            u.addAll(List.of(types));
            cells.put(d, new Cell<>(d, c.kernel(), c.workspace(), c.untested(), c.absent(), c.halfTypes(), u));
            return this;
        }

        /** A kernel that has never run against the reference on its device: fusions that need it stay off there. */
        <B extends Backend, V extends View> Entry<O> untested(Device<B, V> d, Kernel<O, B, V> k) {
            return put(d, k, (op, in) -> 0L, Set.copyOf(variants), Set.of());
        }

        /** As {@link #untested(Device, Kernel)}, with its workspace. */
        <B extends Backend, V extends View> Entry<O> untested(Device<B, V> d, Kernel<O, B, V> k, Workspace<O> ws) {
            return put(d, k, ws, Set.copyOf(variants), Set.of());
        }

        /** Marks some variants of {@code d}'s cell as never run against the reference there. */
        Entry<O> untested(Device<?, ?> d, String... names) {
            Cell<O> c = existing(d, names);
            Set<String> u = new java.util.HashSet<>(c.untested());
            u.addAll(List.of(names));
            cells.put(d, new Cell<>(d, c.kernel(), c.workspace(), u, c.absent(), c.halfTypes(), c.untestedHalf()));
            return this;
        }

        /** Variants {@code d}'s kernel does not cover: they take the device's fallback. */
        Entry<O> without(Device<?, ?> d, String... names) {
            Cell<O> c = existing(d, names);
            Set<String> a = new java.util.HashSet<>(c.absent());
            a.addAll(List.of(names));
            cells.put(d, new Cell<>(d, c.kernel(), c.workspace(), c.untested(), a, c.halfTypes(), c.untestedHalf()));
            return this;
        }

        private Cell<O> existing(Device<?, ?> d, String... names) {
            Cell<O> c = cells.get(d);
            if (c == null) {
                throw new IllegalStateException(this.names + " has no " + d + " kernel to mark");
            }
            for (String n : names) {
                if (!variants.contains(n)) {
                    throw new IllegalStateException(this.names + " has no variant " + n);
                }
            }
            return c;
        }

        private Entry<O> put(Device<?, ?> d, Kernel<O, ?, ?> k, Workspace<O> ws, Set<String> untested, Set<DType> halfTypes) {
            if (cells.put(d, new Cell<>(d, k, ws, untested, Set.of(), halfTypes, Set.of())) != null) {
                throw new IllegalStateException(names + " has two " + d + " kernels");
            }
            return this;
        }

        /** The row's names, comma-separated: one per variant. */
        public String names() {
            return names;
        }

        /** One name per variant the row's attributes make. */
        public List<String> variants() {
            return variants;
        }

        public String family() {
            return family;
        }

        public Class<O> type() {
            return type;
        }

        /** The cell of a device, or null where the op has no kernel there. */
        public Cell<O> cell(Device<?, ?> d) {
            return cells.get(d);
        }

        /** The cell of a device that covers variant {@code name}, or null: then the device's fallback applies. */
        public Cell<O> cell(Device<?, ?> d, String name) {
            if (!variants.contains(name)) {
                throw new IllegalStateException("op " + name + " is not a variant of the op table row " + names);
            }
            Cell<O> c = cells.get(d);
            return c != null && c.covers(name) ? c : null;
        }
    }

    private static <O extends Op> Entry<O> op(String names, String family, Class<O> type) {
        return new Entry<>(names, family, type);
    }

    /** The 16-bit storage types (Note [Mixed precision]). */
    private static final Set<DType> HALF_TYPES = Set.of(DType.BF16, DType.F16);

    /**
     * The 16-bit types the cpu kernels take (Note [Mixed precision]): they load to float, compute as
     * the float32 kernels and round what they store; the convolutions as Note [cpu 16-bit convolutions]
     * in src/main/cpp/cpu/conv.cpp says. Parameters, their gradients and optimizer state are float32, so
     * the optimizer rows need none.
     */
    private static final DType[] CPU_16 = {DType.BF16, DType.F16};

    /**
     * The 16-bit types cuda kernels take where they were written for them (the elementwise ops' {@code *_t_k}
     * kernels, Note [16-bit norm kernels], Note [16-bit cuDNN convolutions], the channel copies of concat and slice, resize by rows, global average pooling, the cross-entropy, fused upsample loss and eval masks): not yet run on a GPU, so marked untested there; every other cuda
     * kernel runs 16-bit views on float32 copies (Note [Widened 16-bit runs]).
     */
    private static final DType[] CUDA_16 = {DType.BF16, DType.F16};

    private static final Device<?, ?> REF = Device.REFERENCE;
    private static final Device<org.leanseg.backend.cpu.CpuBackend, org.leanseg.backend.cpu.CpuView> CPU = Device.CPU;
    private static final Device<org.leanseg.backend.cuda.CudaBackend, org.leanseg.backend.cuda.CudaView> CUDA = Device.CUDA;

    private static final List<Entry<?>> TABLE = List.of(
            // elementwise
            op("add", "elementwise", Add.class).ref(Add::reference).on(CPU, ElementwiseCpu::add)
                    .on(CUDA, ElementwiseCuda::add, ElementwiseCuda::addWorkspace)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("scale", "elementwise", Scale.class).ref(Scale::reference).on(CPU, ElementwiseCpu::scale).on(CUDA, ElementwiseCuda::scale)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("fill", "elementwise", Fill.class).ref(Fill::reference).on(CPU, ElementwiseCpu::fill).on(CUDA, ElementwiseCuda::fill)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("accumulate_into", "elementwise", AccumulateInto.class).ref(AccumulateInto::reference)
                    .on(CPU, ElementwiseCpu::accumulate).on(CUDA, ElementwiseCuda::accumulate)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("relu, relu6", "elementwise", Activation.class).ref(Activation::reference)
                    .on(CPU, ElementwiseCpu::activation).on(CUDA, ElementwiseCuda::activation)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("relu_backward, relu6_backward", "elementwise", ActivationBackward.class).ref(ActivationBackward::reference)
                    .on(CPU, ElementwiseCpu::activationBackward).on(CUDA, ElementwiseCuda::activationBackward)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // conv: OPS-CONV
            op("conv2d", "conv", Conv2d.class).ref(Conv2d::reference)
                    .on(CPU, ConvCpu::forward, ConvCpu::forwardWorkspace).on(CUDA, ConvCuda::forward, ConvCuda::cudnnWorkspace)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),   // Note [16-bit cuDNN convolutions]
            // Note [Data gradient over its input gradient]: the in-place variant runs on the reference backend only
            op("conv2d_backward_data, conv2d_backward_data_inplace", "conv", Conv2dBackwardData.class).ref(Conv2dBackwardData::reference)
                    .on(CPU, ConvCpu::backwardData, ConvCpu::backwardDataWorkspace).without(CPU, "conv2d_backward_data_inplace")
                    .on(CUDA, ConvCuda::backwardData, ConvCuda::cudnnWorkspace).without(CUDA, "conv2d_backward_data_inplace")
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("conv2d_backward_filter", "conv", Conv2dBackwardFilter.class).ref(Conv2dBackwardFilter::reference)
                    .on(CPU, ConvCpu::backwardFilter, ConvCpu::backwardFilterWorkspace).on(CUDA, ConvCuda::backwardFilter, ConvCuda::cudnnWorkspace)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("conv2d_bias_grad", "conv", BiasGrad.class).ref(BiasGrad::reference).on(CPU, ConvCpu::biasGrad).on(CUDA, ConvCuda::biasGrad)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // Note [Activation into a dense convolution]: the dense variants run on the reference backend only
            op("relu_depthwise_conv2d, relu6_depthwise_conv2d, relu_conv2d, relu6_conv2d", "conv", ActConv2d.class).ref(ActConv2d::reference)
                    .on(CPU, ConvCpu::actDepthwiseForward, ConvCpu::actDepthwiseForwardWorkspace).without(CPU, "relu_conv2d", "relu6_conv2d")
                    .untested(CUDA, ConvCuda::actDepthwiseForward, ConvCuda::actDepthwiseWorkspace).without(CUDA, "relu_conv2d", "relu6_conv2d")
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("relu_depthwise_conv2d_backward_filter, relu6_depthwise_conv2d_backward_filter, relu_conv2d_backward_filter,"
                            + " relu6_conv2d_backward_filter", "conv",
                    ActConv2dBackwardFilter.class).ref(ActConv2dBackwardFilter::reference)
                    .on(CPU, ConvCpu::actDepthwiseBackwardFilter, ConvCpu::actDepthwiseBackwardFilterWorkspace)
                    .without(CPU, "relu_conv2d_backward_filter", "relu6_conv2d_backward_filter")
                    .untested(CUDA, ConvCuda::actDepthwiseBackwardFilter, ConvCuda::actDepthwiseWorkspace)
                    .without(CUDA, "relu_conv2d_backward_filter", "relu6_conv2d_backward_filter")
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // norm: OPS-NORM. Variants are attributes (BatchNorm.Mode, the backward's Source); CUDA's in-place
            // and replay variants and in-place GN have not run on a GPU.
            op("batch_norm, batch_norm_inplace, batch_norm_replay", "norm", BatchNorm.class).ref(BatchNorm::reference)
                    .on(CPU, NormCpu::batchNorm).on(CUDA, NormCuda::batchNorm)
                    .untested(CUDA, "batch_norm_inplace", "batch_norm_replay")
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("batch_norm_backward, batch_norm_backward_from_output, batch_norm_eval_backward", "norm", BatchNormBackward.class)
                    .ref(BatchNormBackward::reference).on(CPU, NormCpu::batchNormBackward).on(CUDA, NormCuda::batchNormBackward)
                    .untested(CUDA, "batch_norm_backward_from_output")
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // Note [BN backward through a 1x1 convolution]: the reference backend only
            op("batch_norm_backward_through_relu_conv1x1, batch_norm_backward_through_relu6_conv1x1", "norm",
                    BatchNormBackwardThroughConv.class).ref(BatchNormBackwardThroughConv::reference),
            op("group_norm, group_norm_inplace", "norm", GroupNorm.class).ref(GroupNorm::reference)
                    .on(CUDA, NormCuda::groupNorm).untested(CUDA, "group_norm_inplace").halfUntested(CUDA, CUDA_16),
            op("group_norm_backward, group_norm_backward_from_output", "norm", GroupNormBackward.class)
                    .ref(GroupNormBackward::reference).on(CUDA, NormCuda::groupNormBackward)
                    .untested(CUDA, "group_norm_backward_from_output").halfUntested(CUDA, CUDA_16),
            // resize/pool/concat: OPS-SHAPE
            op("resize_bilinear", "shape", Resize.class).ref(Resize::reference).on(CPU, ShapeCpu::resize).on(CUDA, ShapeCuda::resize, ShapeCuda::resizeWorkspace)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("resize_bilinear_backward", "shape", ResizeBackward.class).ref(ResizeBackward::reference)
                    .on(CPU, ShapeCpu::resizeBackward).on(CUDA, ShapeCuda::resizeBackward, ShapeCuda::resizeWorkspace)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("global_avg_pool", "shape", GlobalAvgPool.class).ref(GlobalAvgPool::reference)
                    .on(CPU, ShapeCpu::globalAvgPool).on(CUDA, ShapeCuda::globalAvgPool)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("global_avg_pool_backward", "shape", GlobalAvgPoolBackward.class).ref(GlobalAvgPoolBackward::reference)
                    .on(CPU, ShapeCpu::globalAvgPoolBackward).on(CUDA, ShapeCuda::globalAvgPoolBackward)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("concat", "shape", Concat.class).ref(Concat::reference).on(CPU, ShapeCpu::concat).on(CUDA, ShapeCuda::concat)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("channel_slice", "shape", ChannelSlice.class).ref(ChannelSlice::reference)
                    .on(CPU, ShapeCpu::channelSlice).on(CUDA, ShapeCuda::channelSlice)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // loss: OPS-LOSS
            op("softmax_cross_entropy", "loss", SoftmaxCrossEntropy.class).ref(SoftmaxCrossEntropy::reference)
                    .on(CPU, LossCpu::crossEntropy).on(CUDA, LossCuda::crossEntropy)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("softmax_cross_entropy_backward", "loss", SoftmaxCrossEntropyBackward.class).ref(SoftmaxCrossEntropyBackward::reference)
                    .on(CPU, LossCpu::crossEntropyBackward).on(CUDA, LossCuda::crossEntropyBackward)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // Note [Fused upsample loss]; its CUDA kernels (Note [Fused upsample loss on the GPU]) have not run on a GPU
            op("upsample_softmax_cross_entropy", "loss", UpsampleSoftmaxCrossEntropy.class).ref(UpsampleSoftmaxCrossEntropy::reference)
                    .on(CPU, LossCpu::upsampleCrossEntropy).untested(CUDA, LossCuda::upsampleCrossEntropy)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("upsample_softmax_cross_entropy_backward", "loss", UpsampleSoftmaxCrossEntropyBackward.class)
                    .ref(UpsampleSoftmaxCrossEntropyBackward::reference).on(CPU, LossCpu::upsampleCrossEntropyBackward)
                    .untested(CUDA, LossCuda::upsampleCrossEntropyBackward)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            op("upsample_argmax", "loss", UpsampleArgmax.class).ref(UpsampleArgmax::reference).on(CPU, LossCpu::upsampleArgmax)
                    .untested(CUDA, LossCuda::upsampleArgmax)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // Note [Distillation loss]: no cpu kernel, so the cpu device runs the reference on host copies (Device.Fallback
            // .HOST_REFERENCE; the logits are small next to a step's activations); no CUDA kernel: distillation trains on cpu/reference
            op("distill_kl_pixel, distill_kl_channel", "loss", DistillKl.class).ref(DistillKl::reference),
            op("distill_kl_pixel_backward, distill_kl_channel_backward", "loss", DistillKlBackward.class).ref(DistillKlBackward::reference),
            op("argmax", "loss", Argmax.class).ref(Argmax::reference).on(CPU, LossCpu::argmax).on(CUDA, LossCuda::argmax)
                    .half(CPU, CPU_16).halfUntested(CUDA, CUDA_16),
            // optimizer: OPS-OPTIM
            op("sgd", "optimizer", Sgd.class).ref(Sgd::reference).on(CPU, SgdCpu::run).on(CUDA, SgdCuda::run),
            op("adamw", "optimizer", AdamW.class).ref(AdamW::reference).on(CUDA, AdamWCuda::run),
            // Note [Dynamic loss scaling]: fp16 steps; the cpu device runs them on its host fallback
            // (cuda: kernels of src/main/cuda/precision.cu, not yet run on a GPU)
            op("loss_scale", "optimizer", LossScale.class).ref(LossScale::reference).untested(CUDA, LossScaleCuda::scale),
            op("loss_scale_update", "optimizer", LossScaleUpdate.class).ref(LossScaleUpdate::reference)
                    .untested(CUDA, LossScaleCuda::update),
            op("loss_scaled_update", "optimizer", LossScaled.class).ref(LossScaled::reference).untested(CUDA, LossScaleCuda::scaled)
    );

    private static final Map<Class<?>, Entry<?>> BY_TYPE = new IdentityHashMap<>();

    static {
        for (Entry<?> e : TABLE) {
            if (BY_TYPE.put(e.type(), e) != null) {
                throw new IllegalStateException("two rows for " + e.type().getSimpleName());
            }
            if (e.cell(REF) == null) {
                throw new IllegalStateException(e.names() + " has no reference kernel: every op needs one");
            }
        }
    }

    public static List<Entry<?>> table() {
        return TABLE;
    }

    public static Entry<?> entry(Op op) {
        return entry(op.getClass());
    }

    public static Entry<?> entry(Class<? extends Op> type) {
        Entry<?> e = BY_TYPE.get(type);
        if (e == null) {
            throw new IllegalStateException("op " + type.getSimpleName() + " is not in the op table Ops.TABLE");
        }
        return e;
    }

    /** The cell of {@code d} that runs {@code op} (its row's, if it covers the op's variant), or null. */
    public static Cell<?> cell(Device<?, ?> d, Op op) {
        return entry(op).cell(d, op.name());
    }

    /**
     * Whether {@code op} (this variant of its row) runs on {@code d}: a kernel there that has been
     * checked against the reference, or the device's host fallback. What a device's fusions are
     * derived from ({@code StepPasses.forDevice}).
     */
    public static boolean runs(Device<?, ?> d, Op op) {
        Status s = status(d, entry(op), op.name());
        return s.runs || s == Status.UNTESTED && untestedAllowed(d);
    }

    /** The opt-in of Note [Running untested kernels]: device names, comma-separated. */
    public static final String UNTESTED_PROPERTY = "leanseg.untested";
    public static final String UNTESTED_ENV = "LEANSEG_UNTESTED";
    private static final java.util.Set<String> NOTED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /*
     * Note [Running untested kernels]
     * A cell marked untested has a kernel that has not passed its parity test on its device yet (CUDA's
     * fused and in-place kernels, written and checked on the CPU only). Such a kernel never runs by
     * default: the device keeps the plain step (StepPasses.forDevice). Setting the system property
     * leanseg.untested or the environment variable LEANSEG_UNTESTED to a device name (e.g. cuda) lets
     * that device's untested kernels count as running, so the fused step can be measured on a GPU in
     * the same session that runs its tests (tools/gpu run.sh, benchmarks/gpu-vs-pytorch --fused-too),
     * without a rebuild. It says so once on stderr. The cells become tested only in the code, after
     * the tests pass.
     */
    static boolean untestedAllowed(Device<?, ?> d) {
        String v = System.getProperty(UNTESTED_PROPERTY, System.getenv(UNTESTED_ENV));
        if (v == null || v.isBlank()) {
            return false;
        }
        for (String name : v.split(",")) {
            if (name.strip().equalsIgnoreCase(d.key())) {
                if (NOTED.add(d.key())) {
                    System.err.println("note: " + d.key() + " runs kernels not yet tested on it (" + UNTESTED_ENV + "/-D" + UNTESTED_PROPERTY
                            + " = " + v.strip() + ", Note [Running untested kernels])");
                }
                return true;
            }
        }
        return false;
    }

    /** How a device runs one variant of a row: what {@code leanseg ops} prints. */
    public enum Status {
        YES("yes", true), UNTESTED("untested", false), HOST("host", true), NONE("-", false);

        private final String label;
        private final boolean runs;

        Status(String label, boolean runs) {
            this.label = label;
            this.runs = runs;
        }

        public String label() {
            return label;
        }
    }

    /**
     * How {@code d} runs variant {@code name} of row {@code e} on 16-bit data (Note [Mixed precision]; bfloat16 and
     * binary16 are always declared together): its kernel takes them ({@code yes}, or {@code untested} where they have
     * not run on the device yet), its float32 kernel runs on float32 copies ({@code widened}, Note [Widened 16-bit
     * runs]), the host fallback runs it ({@code host}), or it cannot run ({@code -}).
     */
    public static String status16(Device<?, ?> d, Entry<?> e, String name) {
        Cell<?> c = e.cell(d, name);
        if (c != null && c.halfTypes().contains(DType.BF16)) {
            return c.untestedHalf().contains(DType.BF16) ? "untested" : "yes";
        }
        if (d.fallback() == Device.Fallback.HOST_REFERENCE) {
            return "host";
        }
        return c != null && d.fallback() == Device.Fallback.WIDEN_16 ? "widened" : "-";
    }

    /** How {@code d} runs {@code op} (this variant of its row). */
    public static Status status(Device<?, ?> d, Op op) {
        return status(d, entry(op), op.name());
    }

    /** The status of variant {@code name} of row {@code e} on {@code d}. */
    public static Status status(Device<?, ?> d, Entry<?> e, String name) {
        Cell<?> c = e.cell(d, name);
        if (c != null) {
            return c.tested(name) ? Status.YES : Status.UNTESTED;
        }
        return d.fallback() == Device.Fallback.HOST_REFERENCE ? Status.HOST : Status.NONE;
    }

    /**
     * Scratch bytes {@code op} needs on {@code d} for inputs {@code in}: its kernel's workspace, or
     * for the host fallback the host copies of its inputs and outputs plus the reference kernel's
     * scratch (Note [cpu workspace]).
     */
    @SuppressWarnings("unchecked")
    public static <O extends Op> long workspaceBytes(Device<?, ?> d, O op, List<TensorSpec> in) {
        List<TensorSpec> outs = op.infer(in);
        Cell<O> c = (Cell<O>) cell(d, op, in, outs);
        if (c != null) {
            return c.workspace().bytes(op, in);
        }
        Cell<O> wide = (Cell<O>) cell(d, op);
        if (d.fallback() == Device.Fallback.WIDEN_16 && wide != null) {
            return widenedBytes(op, in, outs) + wide.workspace().bytes(op, widened(in));
        }
        if (d.fallback() != Device.Fallback.HOST_REFERENCE) {
            return 0;
        }
        long bytes = op.workspaceBytes(in);
        for (TensorSpec s : in) {
            bytes += 4L * s.shape().numel();
        }
        for (TensorSpec s : op.infer(in)) {
            bytes += 4L * s.shape().numel();
        }
        return bytes;
    }

    /** {@link #workspaceBytes} of each node on {@code d}, as plans count it. */
    public static org.leanseg.memory.Workspace workspace(Device<?, ?> d) {
        return d == Device.REFERENCE ? org.leanseg.memory.Workspace.OP : (n, in) -> workspaceBytes(d, n.op(), in);
    }

    private static List<TensorSpec> specs(View[] views) {
        List<TensorSpec> s = new ArrayList<>(views.length);
        for (View v : views) {
            s.add(v.spec());
        }
        return s;
    }

    private static boolean anyHalf(List<TensorSpec> specs) {
        return specs.stream().anyMatch(s -> s.dtype().isHalf());
    }

    private static boolean takesAll(Cell<?> c, List<TensorSpec> specs) {
        return specs.stream().allMatch(s -> c.takes(s.dtype()));
    }

    /**
     * The cell of {@code d} that runs {@code op} on views of these specs: {@link #cell(Device, Op)}
     * unless a spec is 16-bit of a type the cell does not take; null when the device's fallback runs
     * it (Note [Mixed precision]).
     */
    public static Cell<?> cell(Device<?, ?> d, Op op, List<TensorSpec> in, List<TensorSpec> out) {
        Cell<?> c = cell(d, op);
        return c != null && takesAll(c, in) && takesAll(c, out) ? c : null;
    }

    /** Runs {@code op} on {@code backend}'s views with that device's kernel, or its fallback. */
    public static void run(Backend backend, Op op, View[] in, View[] out) {
        Device<?, ?> d = Device.of(backend);
        List<TensorSpec> inSpecs = specs(in);
        List<TensorSpec> outSpecs = specs(out);
        Cell<?> c = cell(d, op, inSpecs, outSpecs);
        if (d == widenForTests && c != null && (anyHalf(inSpecs) || anyHalf(outSpecs))) {
            runWidened(backend, op, in, out);
        } else if (c != null) {
            runCell(c, d, backend, op, in, out);
        } else if (d.fallback() == Device.Fallback.HOST_REFERENCE) {
            runOnHost(backend, op, in, out);
        } else if (d.fallback() == Device.Fallback.WIDEN_16 && cell(d, op) != null) {
            runWidened(backend, op, in, out);
        } else {
            boolean half = anyHalf(inSpecs) || anyHalf(outSpecs);
            throw new OpException(op.name() + " has no " + d + " kernel" + (half ? " for 16-bit views" : "")
                    + " yet (Ops table); run it on another device" + (half ? " or with train.precision fp32" : ""));
        }
    }

    @SuppressWarnings("unchecked")
    private static <O extends Op, B extends Backend, V extends View> void runCell(Cell<?> cell, Device<B, V> d, Backend backend,
                                                                                 Op op, View[] in, View[] out) {
        Kernel<O, B, V> k = (Kernel<O, B, V>) cell.kernel();
        k.run((O) op, d.backendType().cast(backend), cast(in, d), cast(out, d));
    }

    private static <V extends View> V[] cast(View[] views, Device<?, V> d) {
        V[] into = d.views().apply(views.length);
        for (int i = 0; i < views.length; i++) {
            @SuppressWarnings("unchecked")
            V v = (V) views[i];
            into[i] = v;
        }
        return into;
    }

    /**
     * {@link Device.Fallback#HOST_REFERENCE}: inputs to host arrays (views that are one buffer share
     * one array, so in-place ops stay in place), the reference kernel, then outputs and the inputs the
     * op updates back.
     */
    private static void runOnHost(Backend backend, Op op, View[] in, View[] out) {
        Map<View, RefView> host = new LinkedHashMap<>();
        RefView[] hin = new RefView[in.length];
        for (int i = 0; i < in.length; i++) {
            hin[i] = host.computeIfAbsent(in[i], v -> {
                Tensor t = new Tensor(v.spec(), new float[v.spec().shape().size()]);
                backend.download(v, t);
                return new RefView(t.data(), 0, v.spec());
            });
        }
        RefView[] hout = new RefView[out.length];
        for (int i = 0; i < out.length; i++) {
            hout[i] = host.computeIfAbsent(out[i], v -> new RefView(new float[v.spec().shape().size()], 0, v.spec()));
        }
        runReference(op, hin, hout);
        List<View> back = new ArrayList<>(List.of(out));
        for (int i : op.mutatedInputs()) {
            back.add(in[i]);
        }
        for (View v : back) {
            RefView h = host.get(v);
            backend.upload(new Tensor(v.spec(), h.data()), v);
        }
    }

    /*
     * Note [Widened 16-bit runs]
     * A device whose fallback is WIDEN_16 (cuda) runs an op whose kernel does not take its 16-bit views on float32
     * copies of them, on the device: each distinct 16-bit view (an in-place output is its input's view, so one copy)
     * is converted to float32 in scratch memory (Backend.widenScratch, Backend.convert), the float32 kernel runs on
     * the copies, and its outputs and the inputs it updates are converted back, rounded to nearest-even. The result
     * is the reference backend's emulation exactly (Note [Mixed precision]: float32 compute, rounded on store), at
     * the cost of the conversions' traffic; the step's arena still holds 16-bit values, which is where a
     * mixed-precision step saves its memory. The copies count as the op's workspace in the plan (workspaceBytes:
     * 4 bytes an element of every 16-bit input and output, the kernel's own workspace beside them), so plan and
     * batch=auto see them. The conversions are kernels on the backend's stream: a captured step replays them.
     * A kernel that takes 16-bit views (Entry.half) needs none of this. runWidened is public so that the cpu and
     * reference backends run the same code in CI (WidenedRunTest); on cuda it has not yet run on a GPU.
     */

    private static volatile Device<?, ?> widenForTests;

    /**
     * Makes device {@code d} (null: none) run every op with 16-bit views that it has a kernel for through {@link
     * #runWidened}, as cuda runs those its kernels do not take, so that a whole step on the cpu backend exercises that
     * path in CI (WidenedRunTest); returns the previous setting.
     */
    public static Device<?, ?> widenForTests(Device<?, ?> d) {
        Device<?, ?> prev = widenForTests;
        widenForTests = d;
        return prev;
    }

    /** The float32 form of specs: 16-bit floats widened, others as they are. */
    private static List<TensorSpec> widened(List<TensorSpec> specs) {
        return specs.stream().map(s -> s.dtype().isHalf() ? new TensorSpec(s.shape(), DType.F32) : s).toList();
    }

    /** The 16-bit type of the first 16-bit input, or null. */
    private static DType halfType(List<TensorSpec> in) {
        return in.stream().map(TensorSpec::dtype).filter(DType::isHalf).findFirst().orElse(null);
    }

    /**
     * Scratch bytes of the float32 copies of the 16-bit specs (an upper bound: aliased views are copied once) and of
     * the rounded operands (a 16-bit and a float32 copy each).
     */
    private static long widenedBytes(Op op, List<TensorSpec> in, List<TensorSpec> out) {
        long bytes = 0;
        if (halfType(in) != null) {
            for (int i : op.roundedOperands()) {
                if (!in.get(i).dtype().isHalf()) {
                    long n = in.get(i).shape().numel();
                    bytes += org.leanseg.memory.Planner.align(4L * n) + org.leanseg.memory.Planner.align(2L * n);
                }
            }
        }
        for (List<TensorSpec> l : List.of(in, out)) {
            for (TensorSpec s : l) {
                if (s.dtype().isHalf()) {
                    bytes += org.leanseg.memory.Planner.align(4L * s.shape().numel());
                }
            }
        }
        return bytes;
    }

    /**
     * Runs {@code op} with {@code backend}'s float32 kernel on float32 copies of its 16-bit views (Note [Widened
     * 16-bit runs]), converted on the backend and rounded back; views of other types are passed as they are.
     */
    @SuppressWarnings("unchecked")
    public static <O extends Op> void runWidened(Backend backend, O op, View[] in, View[] out) {
        Device<?, ?> d = Device.of(backend);
        Cell<O> c = (Cell<O>) cell(d, op);
        if (c == null) {
            throw new OpException(op.name() + " has no " + d + " kernel to run on float32 copies (Ops table)");
        }
        Map<View, Integer> slot = new LinkedHashMap<>();
        for (View[] views : new View[][] {in, out}) {
            for (View v : views) {
                if (v.spec().dtype().isHalf()) {
                    slot.putIfAbsent(v, slot.size());
                }
            }
        }
        List<View> halves = new ArrayList<>(slot.keySet());
        long[] offsets = new long[halves.size()];
        long bytes = 0;
        for (int i = 0; i < halves.size(); i++) {
            offsets[i] = bytes;
            bytes += org.leanseg.memory.Planner.align(4L * halves.get(i).spec().shape().numel());
        }
        DType half = halfType(specs(in));
        List<Integer> rounded = new ArrayList<>();
        for (int i : op.roundedOperands()) {
            if (half != null && !in[i].spec().dtype().isHalf()) {
                rounded.add(i);
            }
        }
        long[] roundedAt = new long[rounded.size()];
        for (int r = 0; r < rounded.size(); r++) {   // a 16-bit copy, then a float32 one of it
            roundedAt[r] = bytes;
            long n = in[rounded.get(r)].spec().shape().numel();
            bytes += org.leanseg.memory.Planner.align(2L * n) + org.leanseg.memory.Planner.align(4L * n);
        }
        List<TensorSpec> wideIn = widened(specs(in));
        org.leanseg.backend.Buffer scratch = backend.widenScratch(bytes, c.workspace().bytes(op, wideIn));
        try {
            View[] copies = new View[halves.size()];
            for (int i = 0; i < copies.length; i++) {
                View h = halves.get(i);
                copies[i] = backend.view(scratch, offsets[i], new TensorSpec(h.spec().shape(), DType.F32));
            }
            for (int i = 0; i < copies.length; i++) {   // widen what the kernel reads: every 16-bit input
                if (List.of(in).contains(halves.get(i))) {
                    backend.convert(halves.get(i), copies[i]);
                }
            }
            View[] wIn = new View[in.length];
            for (int i = 0; i < in.length; i++) {
                Integer k = slot.get(in[i]);
                wIn[i] = k == null ? in[i] : copies[k];
            }
            for (int r = 0; r < rounded.size(); r++) {   // the operands the kernels use in 16 bits, rounded as the reference does
                View w = in[rounded.get(r)];
                long n = w.spec().shape().numel();
                View w16 = backend.view(scratch, roundedAt[r], new TensorSpec(w.spec().shape(), half));
                View w32 = backend.view(scratch, roundedAt[r] + org.leanseg.memory.Planner.align(2L * n), w.spec());
                backend.convert(w, w16);
                backend.convert(w16, w32);
                wIn[rounded.get(r)] = w32;
            }
            View[] wOut = new View[out.length];
            for (int i = 0; i < out.length; i++) {
                Integer k = slot.get(out[i]);
                wOut[i] = k == null ? out[i] : copies[k];
            }
            runCell(c, d, backend, op, wIn, wOut);
            java.util.Set<View> back = new java.util.LinkedHashSet<>(List.of(out));
            for (int i : op.mutatedInputs()) {
                back.add(in[i]);
            }
            for (View v : back) {   // round back what the kernel stored
                Integer k = slot.get(v);
                if (k != null) {
                    backend.convert(copies[k], v);
                }
            }
        } finally {
            backend.releaseWidenScratch(scratch);
        }
    }

    /** Rounds what a reference kernel stored into 16-bit views: its outputs and the inputs it updates. */
    private static void roundStored(Op op, RefView[] in, RefView[] out) {
        for (RefView v : out) {
            v.roundToStorage();
        }
        for (int i : op.mutatedInputs()) {
            in[i].roundToStorage();
        }
    }

    /** Runs {@code op} with its reference kernel. */
    @SuppressWarnings("unchecked")
    public static <O extends Op> void runReference(O op, RefView[] in, RefView[] out) {
        ((Entry<O>) entry(op)).reference.run(op, in, out);
    }
}
