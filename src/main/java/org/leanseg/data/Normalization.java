package org.leanseg.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Per-channel RGB mean and standard deviation in [0, 255] units that a dataset's images are
 * normalised with. Checkpoints record it (metadata {@code normalization}) so that prediction
 * normalises new images the way the model was trained.
 */
public record Normalization(float[] mean, float[] std) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public Normalization {
        if (mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("normalization needs 3 means and 3 standard deviations");
        }
        mean = mean.clone();
        std = std.clone();
    }

    /** ImageNet's mean and std, what the file datasets use. */
    public static Normalization imagenet() {
        return new Normalization(Augment.Settings.imagenetMean(), Augment.Settings.imagenetStd());
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }

    public String toJson() {
        ObjectNode n = JSON.createObjectNode();
        var m = n.putArray("mean");
        var s = n.putArray("std");
        for (int c = 0; c < 3; c++) {
            m.add(mean[c]);
            s.add(std[c]);
        }
        return n.toString();
    }

    /** Parses {@link #toJson}'s form; {@code null} or blank gives ImageNet's. */
    public static Normalization fromJson(String json) {
        if (json == null || json.isBlank()) {
            return imagenet();
        }
        try {
            JsonNode n = JSON.readTree(json);
            float[] m = new float[3];
            float[] s = new float[3];
            for (int c = 0; c < 3; c++) {
                m[c] = (float) n.get("mean").get(c).asDouble();
                s[c] = (float) n.get("std").get(c).asDouble();
            }
            return new Normalization(m, s);
        } catch (com.fasterxml.jackson.core.JsonProcessingException | NullPointerException e) {
            throw new IllegalArgumentException("normalization metadata '" + json + "' is not {\"mean\":[r,g,b],\"std\":[r,g,b]}", e);
        }
    }
}
