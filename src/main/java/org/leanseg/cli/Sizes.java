package org.leanseg.cli;


/** Parses "HxW" (or a single number for a square) command-line sizes. */
final class Sizes {
    private Sizes() {
    }

    static int[] parse(String s, String option) {
        String[] parts = s.toLowerCase().split("x");
        try {
            int h = Integer.parseInt(parts[0].trim());
            int w = parts.length > 1 ? Integer.parseInt(parts[1].trim()) : h;
            if (parts.length > 2 || h < 1 || w < 1) {
                throw new NumberFormatException();
            }
            return new int[] {h, w};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": '" + s + "' is not a size; write HxW, e.g. 512x512");
        }
    }
}
