package org.leanseg.memory;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A number of bytes as people write it: plain bytes ({@code 6442450944}), binary units
 * ({@code 512KiB}, {@code 512MiB}, {@code 6GiB}, {@code 1.5TiB}) or decimal ones ({@code 6GB} =
 * 6·10⁹); units are case-insensitive, a space before the unit is allowed. Used for memory budgets
 * ({@code --memory-budget}, {@code train.memory_budget}, {@code auto:<bytes>}).
 *
 * <pre>{@code
 * ByteSize b = ByteSize.parse("6GiB");   // b.bytes() == 6L << 30, b.toString() == "6GiB"
 * String s = ByteSize.format(1234567890); // "1.15 GiB"
 * }</pre>
 * Check: {@code mvn -q test -Dtest=RecomputePolicyTest}.
 *
 * @param bytes a positive number of bytes
 */
public record ByteSize(long bytes) {
    private static final Pattern FORM = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]i?b|b)?");
    private static final String[] BINARY = {"B", "KiB", "MiB", "GiB", "TiB"};
    private static final String EXAMPLES = " (write e.g. 6GiB, 512MiB, 6GB or plain bytes)";

    public ByteSize {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a byte size must be positive, got " + bytes);
        }
    }

    /** Parses {@code text}; the message of the exception says what is accepted. */
    public static ByteSize parse(String text) {
        Matcher m = FORM.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a byte size" + EXAMPLES);
        }
        String unit = m.group(2) == null ? "b" : m.group(2);
        double scale = switch (unit.charAt(0)) {
            case 'k' -> unit.contains("i") ? 0x1p10 : 1e3;
            case 'm' -> unit.contains("i") ? 0x1p20 : 1e6;
            case 'g' -> unit.contains("i") ? 0x1p30 : 1e9;
            case 't' -> unit.contains("i") ? 0x1p40 : 1e12;
            default -> 1;
        };
        double value = Double.parseDouble(m.group(1)) * scale;
        if (!(value >= 1 && value < 0x1p62)) {
            throw new IllegalArgumentException("'" + text + "' is not a byte size between 1 byte and 4 EiB" + EXAMPLES);
        }
        if (scale == 1 && m.group(1).contains(".")) {
            throw new IllegalArgumentException("'" + text + "': a number of bytes is a whole number" + EXAMPLES);
        }
        return new ByteSize(Math.round(value));
    }

    /** The shortest exact spelling: {@code 6GiB}, {@code 1536MiB}, or plain bytes. */
    @Override
    public String toString() {
        for (int u = BINARY.length - 1; u > 0; u--) {
            long unit = 1L << (10 * u);
            if (bytes % unit == 0) {
                return (bytes / unit) + BINARY[u];
            }
        }
        return Long.toString(bytes);
    }

    /** A readable approximation for reports: {@code 1.15 GiB}, {@code 540.71 MiB}, {@code 512 B}. */
    public static String format(long bytes) {
        if (Math.abs(bytes) < 1024) {
            return bytes + " B";
        }
        int u = 1;
        while (u < BINARY.length - 1 && Math.abs(bytes) >= 1L << (10 * (u + 1))) {
            u++;
        }
        double v = bytes / (double) (1L << (10 * u));
        return String.format(Locale.ROOT, "%.2f %s", v, BINARY[u]);
    }
}
