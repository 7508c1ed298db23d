package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BFLOAT16;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_HALF;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NCHW;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolution2dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolutionGroupCount;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolutionMathType;
import static org.bytedeco.cuda.global.cudnn.cudnnSetFilter4dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetTensor4dDescriptor;

import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;

/**
 * cuDNN descriptors, each wrapped in one {@link AutoCloseable} owner that pairs create and destroy
 * (as PyTorch's {@code Descriptor<T, ctor, dtor>}). NCHW; data of a storage type code ({@link
 * CudaBackend#typeCode}: float32, bfloat16 or binary16), convolutions computing in float32.
 */
final class CudnnDescriptors {
    private CudnnDescriptors() {
    }

    /** cuDNN's data type of a storage type code (0 float32, 1 bfloat16, 2 binary16). */
    static int dataType(int typeCode) {
        return switch (typeCode) {
            case 1 -> CUDNN_DATA_BFLOAT16;
            case 2 -> CUDNN_DATA_HALF;
            default -> CUDNN_DATA_FLOAT;
        };
    }

    /** A 4-D NCHW tensor descriptor. */
    static final class Tensor4d implements AutoCloseable {
        final cudnnTensorStruct desc = new cudnnTensorStruct();

        Tensor4d(int n, int c, int h, int w) {
            this(n, c, h, w, 0);
        }

        Tensor4d(int n, int c, int h, int w, int typeCode) {
            CudaStatus.checkDnn(cudnnCreateTensorDescriptor(desc), "cudnnCreateTensorDescriptor");
            CudaStatus.checkDnn(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, dataType(typeCode), n, c, h, w),
                    "cudnnSetTensor4dDescriptor(" + n + "," + c + "," + h + "," + w + ")");
        }

        @Override
        public void close() {
            cudnnDestroyTensorDescriptor(desc);
        }
    }

    /** A KCRS filter descriptor. */
    static final class Filter implements AutoCloseable {
        final cudnnFilterStruct desc = new cudnnFilterStruct();

        Filter(int k, int c, int r, int s, int typeCode) {
            CudaStatus.checkDnn(cudnnCreateFilterDescriptor(desc), "cudnnCreateFilterDescriptor");
            CudaStatus.checkDnn(cudnnSetFilter4dDescriptor(desc, dataType(typeCode), CUDNN_TENSOR_NCHW, k, c, r, s),
                    "cudnnSetFilter4dDescriptor(" + k + "," + c + "," + r + "," + s + ")");
        }

        @Override
        public void close() {
            cudnnDestroyFilterDescriptor(desc);
        }
    }

    /** A 2-D cross-correlation with groups and a math type (FMA-only or tensor-op/TF32). */
    static final class Convolution implements AutoCloseable {
        final cudnnConvolutionStruct desc = new cudnnConvolutionStruct();

        Convolution(ConvShape s, int mathType) {
            CudaStatus.checkDnn(cudnnCreateConvolutionDescriptor(desc), "cudnnCreateConvolutionDescriptor");
            CudaStatus.checkDnn(cudnnSetConvolution2dDescriptor(desc, s.padH(), s.padW(), s.strideH(), s.strideW(),
                    s.dilationH(), s.dilationW(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor(" + s + ")");
            CudaStatus.checkDnn(cudnnSetConvolutionGroupCount(desc, s.groups()), "cudnnSetConvolutionGroupCount(" + s.groups() + ")");
            CudaStatus.checkDnn(cudnnSetConvolutionMathType(desc, mathType), "cudnnSetConvolutionMathType(" + mathType + ")");
        }

        @Override
        public void close() {
            cudnnDestroyConvolutionDescriptor(desc);
        }
    }
}
