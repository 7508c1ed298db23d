package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The one status check every native call goes through (CODE_SHAPE "All native calls go through one
 * status check"): runtime ({@code cudaError_t}), driver ({@code CUresult}) and cuDNN status codes.
 * Throws {@link CudaException} naming the call, e.g. {@code cudaMalloc(4096 B) -> cudaErrorMemoryAllocation (2): out of memory}.
 */
final class CudaStatus {
    private CudaStatus() {
    }

    /** Runtime API. */
    static void check(int err, String call) {
        if (err != cudaSuccess) {
            throw new CudaException(call + " -> " + cudaGetErrorName(err).getString() + " (" + err + "): "
                    + cudaGetErrorString(err).getString());
        }
    }

    /** Driver API. */
    static void checkDriver(int err, String call) {
        if (err != CUDA_SUCCESS) {
            BytePointer msg = new BytePointer((Pointer) null);
            cuGetErrorString(err, msg);
            throw new CudaException(call + " -> CUresult " + err + ": " + (msg.isNull() ? "?" : msg.getString()));
        }
    }

    /** cuDNN. */
    static void checkDnn(int err, String call) {
        if (err != CUDNN_STATUS_SUCCESS) {
            throw new CudaException(call + " -> cudnnStatus " + err + ": " + cudnnGetErrorString(err).getString());
        }
    }
}
