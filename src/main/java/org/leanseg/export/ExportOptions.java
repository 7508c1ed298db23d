package org.leanseg.export;

/**
 * What {@code leanseg export} writes: the traced input size (the fixed size, or the size traced
 * for a {@code dynamic} export, whose batch, height and width are then symbolic) and the opset.
 *
 * @param height input height traced
 * @param width input width traced
 * @param dynamic symbolic N, H and W in the ONNX graph (resize sizes come from Shape ops)
 * @param opset the ONNX opset imported, {@value #MIN_OPSET} to {@value #MAX_OPSET}
 */
public record ExportOptions(int height, int width, boolean dynamic, int opset) {
    public static final int MIN_OPSET = 13;
    /** The newest opset whose forms of every op we write are the ones opset 13 defined. */
    public static final int MAX_OPSET = 21;
    public static final int DEFAULT_OPSET = 17;

    public ExportOptions {
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new ExportException("--opset " + opset + " is not supported; give " + MIN_OPSET + " to " + MAX_OPSET
                    + " (default " + DEFAULT_OPSET + ")");
        }
        if (height < 1 || width < 1) {
            throw new ExportException("--size " + height + "x" + width + " must be positive, e.g. --size 512x512");
        }
    }

    /** The IR version of the ONNX release that introduced {@code opset}. */
    int irVersion() {
        return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
    }
}
