package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
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
 * (as PyTorch's {@code Descriptor<T, ctor, dtor>}). All float32, NCHW.
 */
final class CudnnDescriptors {
    private CudnnDescriptors() {
    }

    /** A 4-D NCHW float tensor descriptor. */
    static final class Tensor4d implements AutoCloseable {
        final cudnnTensorStruct desc = new cudnnTensorStruct();

        Tensor4d(int n, int c, int h, int w) {
            CudaStatus.checkDnn(cudnnCreateTensorDescriptor(desc), "cudnnCreateTensorDescriptor");
            CudaStatus.checkDnn(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w),
                    "cudnnSetTensor4dDescriptor(" + n + "," + c + "," + h + "," + w + ")");
        }

        @Override
        public void close() {
            cudnnDestroyTensorDescriptor(desc);
        }
    }

    /** A KCRS float filter descriptor. */
    static final class Filter implements AutoCloseable {
        final cudnnFilterStruct desc = new cudnnFilterStruct();

        Filter(int k, int c, int r, int s) {
            CudaStatus.checkDnn(cudnnCreateFilterDescriptor(desc), "cudnnCreateFilterDescriptor");
            CudaStatus.checkDnn(cudnnSetFilter4dDescriptor(desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, r, s),
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
