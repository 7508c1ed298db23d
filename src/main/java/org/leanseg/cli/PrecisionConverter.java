package org.leanseg.cli;

import org.leanseg.tensor.Precision;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code --precision fp32|bf16|fp16} (Note [Mixed precision]); another spelling is a usage error naming them. */
final class PrecisionConverter implements ITypeConverter<Precision> {
    static final String DESCRIPTION = "fp32 (default), bf16 or fp16: activations and their gradients stored in 16 bits "
            + "(weights, optimizer state and BN statistics stay fp32; fp16 adds dynamic loss scaling), as train.precision";

    /**
     * Null where device {@code key} runs a step in {@code p}; else why not, in one line. From the op
     * table: a device without a fallback needs a cell taking 16-bit views in every row (the reference
     * device has them all); one that runs float32 kernels on widened copies (cuda, Note [Widened 16-bit
     * runs]) or host copies (cpu) runs every step whose ops have a kernel there (the step's build checks).
     */
    static String unsupported(String key, Precision p) {
        org.leanseg.ops.Device<?, ?> d = org.leanseg.ops.Device.of(key);
        if (p == Precision.FP32 || d.fallback() != org.leanseg.ops.Device.Fallback.NONE
                || org.leanseg.ops.Ops.table().stream().allMatch(e -> e.cell(d) != null && e.cell(d).takes(p.activations()))) {
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
