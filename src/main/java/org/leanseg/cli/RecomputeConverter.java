package org.leanseg.cli;

import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code --recompute POLICY}; a bad spelling is a usage error naming the allowed policies. */
final class RecomputeConverter implements ITypeConverter<RecomputePolicy> {
    @Override
    public RecomputePolicy convert(String value) {
        try {
            return RecomputePolicy.parse(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /** Reads a byte size such as {@code 6GiB} ({@code --memory-budget}). */
    static final class Bytes implements ITypeConverter<ByteSize> {
        @Override
        public ByteSize convert(String value) {
            try {
                return ByteSize.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
