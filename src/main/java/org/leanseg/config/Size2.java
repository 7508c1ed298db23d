package org.leanseg.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;

/**
 * A height × width pair (crop sizes, strides, image sizes). YAML accepts {@code 512} (square) or
 * {@code [512, 1024]} ([h, w]) and prints {@code [h, w]}.
 *
 * <pre>{@code
 * Size2 crop = Size2.square(512);   // [512, 512]
 * }</pre>
 */
public record Size2(int height, int width) {
    public static Size2 square(int side) {
        return new Size2(side, side);
    }

    @JsonValue
    List<Integer> yaml() {
        return List.of(height, width);
    }

    @Override
    public String toString() {
        return "[" + height + ", " + width + "]";
    }
}
