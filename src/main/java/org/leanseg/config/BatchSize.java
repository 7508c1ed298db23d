package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * {@code train.batch}: a fixed number of images per step, or {@code auto} = the largest batch
 * whose memory plan fits the device (chosen by planning, not by trial and error).
 *
 * <pre>{@code
 * BatchSize b = BatchSize.fixed(8);  if (b.isAuto()) { ... } else { int n = b.value(); }
 * }</pre>
 *
 * @param value images per step, or 0 for {@code auto}
 */
public record BatchSize(int value) {
    public static final BatchSize AUTO = new BatchSize(0);

    public BatchSize {
        if (value < 0) {
            throw new IllegalArgumentException("batch size " + value + " < 0");
        }
    }

    public static BatchSize fixed(int value) {
        if (value < 1) {
            throw new IllegalArgumentException("batch size " + value + " < 1");
        }
        return new BatchSize(value);
    }

    public boolean isAuto() {
        return value == 0;
    }

    @JsonValue
    Object yaml() {
        return isAuto() ? "auto" : (Object) value;
    }

    @Override
    public String toString() {
        return isAuto() ? "auto" : Integer.toString(value);
    }
}
