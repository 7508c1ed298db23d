package org.leanseg.graph;

/**
 * Groups stage paths for the memory report at the depth a reader wants: backbone blocks one by
 * one ({@code backbone.stem}, {@code backbone.features.3}, {@code backbone.blocks.12}) and the
 * head parts whole ({@code aspp}, {@code decoder}, {@code aux}, {@code loss}). Values made
 * outside any stage (the image, the labels) group as {@code input}.
 */
public final class StageGroups {
    private StageGroups() {
    }

    /** The group of a stage path. */
    public static String group(String stage) {
        if (stage.isEmpty()) {
            return "input";
        }
        String[] parts = stage.split("\\.");
        if (!parts[0].equals("backbone") || parts.length == 1) {
            return parts[0];
        }
        // backbone: the block ("features.3", "blocks.12") or the named part ("stem")
        boolean numbered = parts.length >= 3 && Character.isDigit(parts[2].charAt(0));
        return numbered ? parts[0] + "." + parts[1] + "." + parts[2] : parts[0] + "." + parts[1];
    }
}
