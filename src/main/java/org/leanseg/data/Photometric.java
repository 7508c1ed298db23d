package org.leanseg.data;

import java.util.SplittableRandom;

/**
 * Photometric distortion of an RGB crop in [0, 255], after mmsegmentation's
 * {@code PhotoMetricDistortion}: each step applied with probability 1/2 — brightness (add a
 * delta in ±32), contrast (scale by 0.5–1.5, before or after the HSV steps, chosen at random),
 * saturation (scale S by 0.5–1.5) and hue (shift H by ±18 degrees). Values are clipped to
 * [0, 255] after each step. The draws happen in a fixed order, so a given {@link SplittableRandom}
 * state always gives the same distortion.
 *
 * <pre>{@code
 * Photometric.DEFAULT.apply(chw, h * w, new SplittableRandom(seed));
 * }</pre>
 *
 * @param brightnessDelta maximum brightness shift (0..255 units)
 * @param contrastLow smallest contrast factor
 * @param contrastHigh largest contrast factor
 * @param saturationLow smallest saturation factor
 * @param saturationHigh largest saturation factor
 * @param hueDeltaDegrees maximum hue shift in degrees
 */
public record Photometric(double brightnessDelta, double contrastLow, double contrastHigh, double saturationLow,
        double saturationHigh, double hueDeltaDegrees) {
    /** mmsegmentation's defaults (its hue delta of 18 is in OpenCV's 0..180 units; we use degrees). */
    public static final Photometric DEFAULT = new Photometric(32, 0.5, 1.5, 0.5, 1.5, 18);

    private static final float MAX = 255f;

    /** Distorts planar RGB {@code chw} ([3, pixels]) in place. */
    public void apply(float[] chw, int pixels, SplittableRandom rnd) {
        if (rnd.nextBoolean()) {
            float delta = (float) uniform(rnd, -brightnessDelta, brightnessDelta);
            for (int i = 0; i < 3 * pixels; i++) {
                chw[i] = clip(chw[i] + delta);
            }
        }
        boolean contrastFirst = rnd.nextBoolean();
        if (contrastFirst) {
            contrast(chw, pixels, rnd);
        }
        double saturation = rnd.nextBoolean() ? uniform(rnd, saturationLow, saturationHigh) : 1;
        double hueShift = rnd.nextBoolean() ? uniform(rnd, -hueDeltaDegrees, hueDeltaDegrees) : 0;
        if (saturation != 1 || hueShift != 0) {
            hsv(chw, pixels, (float) saturation, (float) hueShift);
        }
        if (!contrastFirst) {
            contrast(chw, pixels, rnd);
        }
    }

    private void contrast(float[] chw, int pixels, SplittableRandom rnd) {
        if (rnd.nextBoolean()) {
            float alpha = (float) uniform(rnd, contrastLow, contrastHigh);
            for (int i = 0; i < 3 * pixels; i++) {
                chw[i] = clip(chw[i] * alpha);
            }
        }
    }

    /** RGB to HSV, scale S, shift H, back to RGB (the standard hexcone model, H in degrees). */
    private static void hsv(float[] chw, int pixels, float saturation, float hueShift) {
        for (int i = 0; i < pixels; i++) {
            float r = chw[i];
            float g = chw[pixels + i];
            float b = chw[2 * pixels + i];
            float max = Math.max(r, Math.max(g, b));
            float min = Math.min(r, Math.min(g, b));
            float chroma = max - min;
            float h;
            if (chroma == 0) {
                h = 0;
            } else if (max == r) {
                h = 60 * ((g - b) / chroma);
            } else if (max == g) {
                h = 60 * ((b - r) / chroma + 2);
            } else {
                h = 60 * ((r - g) / chroma + 4);
            }
            float s = max == 0 ? 0 : chroma / max;
            h = ((h + hueShift) % 360 + 360) % 360;
            s = Math.min(1, s * saturation);
            float c = max * s;
            float hp = h / 60;
            float x = c * (1 - Math.abs(hp % 2 - 1));
            float m = max - c;
            int sector = Math.min((int) hp, 5);
            // (r, g, b) - m per hexcone sector: the largest component is c, the middle one x.
            float r1 = sector == 0 || sector == 5 ? c : sector == 1 || sector == 4 ? x : 0;
            float g1 = sector == 1 || sector == 2 ? c : sector == 0 || sector == 3 ? x : 0;
            float b1 = sector == 3 || sector == 4 ? c : sector == 2 || sector == 5 ? x : 0;
            chw[i] = clip(r1 + m);
            chw[pixels + i] = clip(g1 + m);
            chw[2 * pixels + i] = clip(b1 + m);
        }
    }

    private static double uniform(SplittableRandom rnd, double lo, double hi) {
        return lo + (hi - lo) * rnd.nextDouble();
    }

    private static float clip(float v) {
        return Math.min(Math.max(v, 0), MAX);
    }
}
