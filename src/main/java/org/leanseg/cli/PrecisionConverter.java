package org.leanseg.cli;

import org.leanseg.tensor.Precision;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code --precision fp32|bf16|fp16} (Note [Mixed precision]); another spelling is a usage error naming them. */
final class PrecisionConverter implements ITypeConverter<Precision> {
    static final String DESCRIPTION = "fp32 (default), bf16 or fp16: activations and their gradients stored in 16 bits "
            + "(weights, optimizer state and BN statistics stay fp32; fp16 adds dynamic loss scaling), as train.precision";

    /**
     * Null where device {@code key} runs a step in {@code p}; else why not, in one line. A device
     * without a host fallback (cuda) needs a 16-bit kernel for every op, and none has one yet.
     */
    static String unsupported(String key, Precision p) {
        if (p == Precision.FP32 || org.leanseg.ops.Device.of(key).fallback() != org.leanseg.ops.Device.Fallback.NONE) {
            return null;
        }
        return "--precision " + p + ": the " + key + " device has no 16-bit kernels yet; use --device cpu or reference, or fp32";
    }

    @Override
    public Precision convert(String value) {
        Precision p = Precision.parse(value);
        if (p == null) {
            throw new TypeConversionException("'" + value + "' is not a precision; use fp32, bf16 or fp16");
        }
        return p;
    }
}
