package org.leanseg.backend.cuda;

/**
 * Every size of one convolution as cuDNN needs it (the backend imports no ops: the op's CUDA binding
 * fills this from its geometry, whose output sizes come from ShapeMath), and the storage type of its
 * data, filter and output ({@link CudaBackend#typeCode}: 0 float32, 1 bfloat16, 2 binary16; Note [16-bit
 * cuDNN convolutions]). Also the key of the per-shape descriptor and algorithm cache.
 */
public record ConvShape(int n, int cin, int h, int w, int cout, int kh, int kw, int hOut, int wOut,
                        int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups, int dataType) {
    /** A float32 convolution. */
    public ConvShape(int n, int cin, int h, int w, int cout, int kh, int kw, int hOut, int wOut,
                     int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {
        this(n, cin, h, w, cout, kh, kw, hOut, wOut, strideH, strideW, padH, padW, dilationH, dilationW, groups, 0);
    }
}
