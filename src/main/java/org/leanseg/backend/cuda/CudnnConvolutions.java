package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DETERMINISTIC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_FMA_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_OP_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionBackwardData;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionBackwardFilter;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionForward;
import static org.bytedeco.cuda.global.cudnn.cudnnCreate;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroy;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionForwardAlgorithmEx;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionForwardAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnSetStream;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Convolutions through cuDNN's legacy API: forward, backward data, backward filter (groups cover
 * depthwise). Per {@link ConvShape} the descriptors and the three algorithms are chosen once and
 * cached ({@link ConvAlgoChoice}): with {@code deterministic} from cuDNN's {@code Get*Algorithm_v7}
 * heuristic ranking, deterministic entries preferred (bitwise-repeatable steps); otherwise timed by
 * {@code cudnnFind*AlgorithmEx} on the op's own buffers (its outputs are overwritten by the real call
 * that follows) with the whole workspace limit, the fastest that fits. The workspace limit is what the
 * memory plan counts for every convolution on the cuda device.
 * Math: {@code tf32=false} sets {@code CUDNN_FMA_MATH} (true float32, no tensor cores);
 * {@code tf32=true} sets {@code CUDNN_DEFAULT_MATH}, which lets Ampere/Hopper use TF32 tensor cores
 * (PyTorch's default for convolutions, {@code allow_tf32=True}).
 */
final class CudnnConvolutions implements AutoCloseable {
    private static final int MAX_ALGOS = 16;

    /** Descriptors and algorithms of one shape. */
    private final class Plan implements AutoCloseable {
        final CudnnDescriptors.Tensor4d x;
        final CudnnDescriptors.Tensor4d y;
        final CudnnDescriptors.Filter w;
        final CudnnDescriptors.Convolution conv;
        ConvAlgoChoice.Algo fwd;
        ConvAlgoChoice.Algo bwdData;
        ConvAlgoChoice.Algo bwdFilter;

        Plan(ConvShape s) {
            x = new CudnnDescriptors.Tensor4d(s.n(), s.cin(), s.h(), s.w(), s.dataType());
            y = new CudnnDescriptors.Tensor4d(s.n(), s.cout(), s.hOut(), s.wOut(), s.dataType());
            w = new CudnnDescriptors.Filter(s.cout(), s.cin() / s.groups(), s.kh(), s.kw(), s.dataType());
            // Note [16-bit cuDNN convolutions]: 16-bit data on tensor cores, float32 accumulation
            conv = new CudnnDescriptors.Convolution(s, s.dataType() != 0 ? CUDNN_TENSOR_OP_MATH : tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
        }

        @Override
        public void close() {
            x.close();
            y.close();
            w.close();
            conv.close();
        }
    }

    private final cudnnContext handle = new cudnnContext();
    private final CudaBackend backend;
    private final boolean tf32;
    private final long workspaceLimitBytes;
    private final boolean deterministic;
    private final Map<ConvShape, Plan> plans = new java.util.LinkedHashMap<>();
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);

    CudnnConvolutions(CudaBackend backend, CUstream_st stream, boolean tf32, long workspaceLimitBytes, boolean deterministic) {
        this.backend = backend;
        this.deterministic = deterministic;
        this.tf32 = tf32;
        this.workspaceLimitBytes = workspaceLimitBytes;
        CudaStatus.checkDnn(cudnnCreate(handle), "cudnnCreate");
        CudaStatus.checkDnn(cudnnSetStream(handle, stream), "cudnnSetStream");
    }

    private Plan plan(ConvShape s) {
        return plans.computeIfAbsent(s, Plan::new);
    }

    private static List<ConvAlgoChoice.Candidate> candidates(int count, java.util.function.IntFunction<int[]> ids,
                                                             java.util.function.IntToLongFunction memory,
                                                             java.util.function.IntToDoubleFunction ms) {
        List<ConvAlgoChoice.Candidate> c = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] e = ids.apply(i);   // {algo, status, determinism}
            c.add(new ConvAlgoChoice.Candidate(e[0], e[1] == CUDNN_STATUS_SUCCESS, e[2] == CUDNN_DETERMINISTIC, memory.applyAsLong(i),
                    (float) ms.applyAsDouble(i)));
        }
        return c;
    }

    /** y = conv(x, w). */
    void forward(ConvShape s, long x, long w, long y) {
        Plan p = plan(s);
        if (p.fwd == null) {
            cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(MAX_ALGOS);
            int[] count = {0};
            if (deterministic) {
                CudaStatus.checkDnn(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x.desc, p.w.desc, p.conv.desc, p.y.desc, MAX_ALGOS, count, perf), "cudnnGetConvolutionForwardAlgorithm_v7(" + s + ")");
            } else {
                long ws = backend.workspace(workspaceLimitBytes);
                CudaStatus.checkDnn(cudnnFindConvolutionForwardAlgorithmEx(handle, p.x.desc, new DevicePointer(x), p.w.desc, new DevicePointer(w), p.conv.desc, p.y.desc, new DevicePointer(y), MAX_ALGOS, count, perf, new DevicePointer(ws),
                        workspaceLimitBytes), "cudnnFindConvolutionForwardAlgorithmEx(" + s + ")");
            }
            p.fwd = ConvAlgoChoice.choose("forward " + s, candidates(count[0],
                    i -> new int[] {perf.getPointer(i).algo(), perf.getPointer(i).status(), perf.getPointer(i).determinism()},
                    i -> perf.getPointer(i).memory(), i -> deterministic ? -1 : perf.getPointer(i).time()), workspaceLimitBytes,
                    deterministic);
        }
        long ws = backend.workspace(p.fwd.workspaceBytes());
        CudaStatus.checkDnn(cudnnConvolutionForward(handle, one, p.x.desc, new DevicePointer(x), p.w.desc, new DevicePointer(w), p.conv.desc, p.fwd.algo(), new DevicePointer(ws), p.fwd.workspaceBytes(), zero,
                p.y.desc, new DevicePointer(y)), "cudnnConvolutionForward(" + s + ", algo " + p.fwd.algo() + ")");
    }

    /** dx = conv_transpose(dy, w). */
    void backwardData(ConvShape s, long dy, long w, long dx) {
        Plan p = plan(s);
        if (p.bwdData == null) {
            cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(MAX_ALGOS);
            int[] count = {0};
            if (deterministic) {
                CudaStatus.checkDnn(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, p.w.desc, p.y.desc, p.conv.desc, p.x.desc, MAX_ALGOS, count, perf), "cudnnGetConvolutionBackwardDataAlgorithm_v7(" + s + ")");
            } else {
                long ws = backend.workspace(workspaceLimitBytes);
                CudaStatus.checkDnn(cudnnFindConvolutionBackwardDataAlgorithmEx(handle, p.w.desc, new DevicePointer(w), p.y.desc, new DevicePointer(dy), p.conv.desc, p.x.desc, new DevicePointer(dx), MAX_ALGOS, count, perf, new DevicePointer(ws),
                        workspaceLimitBytes), "cudnnFindConvolutionBackwardDataAlgorithmEx(" + s + ")");
            }
            p.bwdData = ConvAlgoChoice.choose("backward data " + s, candidates(count[0],
                    i -> new int[] {perf.getPointer(i).algo(), perf.getPointer(i).status(), perf.getPointer(i).determinism()},
                    i -> perf.getPointer(i).memory(), i -> deterministic ? -1 : perf.getPointer(i).time()), workspaceLimitBytes,
                    deterministic);
        }
        long ws = backend.workspace(p.bwdData.workspaceBytes());
        CudaStatus.checkDnn(cudnnConvolutionBackwardData(handle, one, p.w.desc, new DevicePointer(w), p.y.desc, new DevicePointer(dy), p.conv.desc, p.bwdData.algo(), new DevicePointer(ws), p.bwdData.workspaceBytes(), zero,
                p.x.desc, new DevicePointer(dx)), "cudnnConvolutionBackwardData(" + s + ", algo " + p.bwdData.algo() + ")");
    }

    /** dw = correlation of x and dy (overwrites dw), or dw += it with {@code accumulate}. */
    void backwardFilter(ConvShape s, long x, long dy, long dw, boolean accumulate) {
        Plan p = plan(s);
        if (p.bwdFilter == null && accumulate) {   // a timed choice would overwrite what dw holds
            throw new IllegalStateException("an accumulating filter gradient of " + s + " before its algorithm was chosen");
        }
        if (p.bwdFilter == null) {
            cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(MAX_ALGOS);
            int[] count = {0};
            if (deterministic) {
                CudaStatus.checkDnn(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, p.x.desc, p.y.desc, p.conv.desc, p.w.desc, MAX_ALGOS, count, perf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7(" + s + ")");
            } else {
                long ws = backend.workspace(workspaceLimitBytes);
                CudaStatus.checkDnn(cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, p.x.desc, new DevicePointer(x), p.y.desc, new DevicePointer(dy), p.conv.desc, p.w.desc, new DevicePointer(dw), MAX_ALGOS, count, perf, new DevicePointer(ws),
                        workspaceLimitBytes), "cudnnFindConvolutionBackwardFilterAlgorithmEx(" + s + ")");
            }
            p.bwdFilter = ConvAlgoChoice.choose("backward filter " + s, candidates(count[0],
                    i -> new int[] {perf.getPointer(i).algo(), perf.getPointer(i).status(), perf.getPointer(i).determinism()},
                    i -> perf.getPointer(i).memory(), i -> deterministic ? -1 : perf.getPointer(i).time()), workspaceLimitBytes,
                    deterministic);
        }
        long ws = backend.workspace(p.bwdFilter.workspaceBytes());
        CudaStatus.checkDnn(cudnnConvolutionBackwardFilter(handle, one, p.x.desc, new DevicePointer(x), p.y.desc, new DevicePointer(dy), p.conv.desc, p.bwdFilter.algo(), new DevicePointer(ws), p.bwdFilter.workspaceBytes(), accumulate ? one : zero,
                p.w.desc, new DevicePointer(dw)), "cudnnConvolutionBackwardFilter(" + s + ", algo " + p.bwdFilter.algo() + ")");
    }

    /** Algorithms chosen so far, for reports: shape -> {fwd, bwdData, bwdFilter} (null where not run). */
    Map<ConvShape, ConvAlgoChoice.Algo[]> chosen() {
        Map<ConvShape, ConvAlgoChoice.Algo[]> m = new java.util.LinkedHashMap<>();
        plans.forEach((k, v) -> m.put(k, new ConvAlgoChoice.Algo[] {v.fwd, v.bwdData, v.bwdFilter}));
        return m;
    }

    @Override
    public void close() {
        plans.values().forEach(Plan::close);
        plans.clear();
        cudnnDestroy(handle);
        one.close();
        zero.close();
    }
}
