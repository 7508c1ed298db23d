package org.leanseg.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * An exported model run by ONNX Runtime on the CPU (its Java API, {@code ai.onnxruntime}): image
 * [N, 3, H, W] in, logits [N, K, H, W] out, with all graph optimisations on (ORT then fuses the
 * QDQ pairs of a quantised model into its int8 kernels). One session per file; close it.
 *
 * <pre>{@code
 * try (OrtModel m = OrtModel.open(Path.of("model.onnx"))) {
 *     Tensor logits = m.run(image); // [1, K, H, W]
 * }
 * }</pre>
 */
public final class OrtModel implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;

    private OrtModel(OrtEnvironment env, OrtSession session) {
        this.env = env;
        this.session = session;
    }

    /** Opens {@code file}; an unreadable or invalid model is an {@link IllegalArgumentException} naming the file. */
    public static OrtModel open(Path file) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = options()) {
            return new OrtModel(env, env.createSession(file.toString(), o));
        } catch (OrtException e) {
            throw new IllegalArgumentException(file + ": ONNX Runtime cannot load it (" + firstLine(e) + "); "
                    + "give a model written by leanseg export or quantize");
        }
    }

    /** Opens a model held in memory (tests). */
    public static OrtModel of(byte[] model) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = options()) {
            return new OrtModel(env, env.createSession(model, o));
        } catch (OrtException e) {
            throw new IllegalArgumentException("ONNX Runtime cannot load the model: " + firstLine(e));
        }
    }

    private static OrtSession.SessionOptions options() throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        o.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        return o;
    }

    /** The model's metadata_props (normalization, class_names, palette, ...). */
    public Map<String, String> metadata() {
        try {
            return session.getMetadata().getCustomMetadata();
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + firstLine(e));
        }
    }

    /**
     * Class indices (as floats, like {@code Evaluator.segment}) of one normalised image [3, H, W];
     * a model exported at a fixed size takes only images of that size.
     */
    public float[] segment(Tensor image) {
        Shape s = image.shape();
        try {
            long[] dims = ((ai.onnxruntime.TensorInfo) session.getInputInfo().get(OnnxExporter.INPUT).getInfo()).getShape();
            if (dims[2] > 0 && (dims[2] != s.dim(1) || dims[3] != s.dim(2))) {
                throw new IllegalArgumentException("the ONNX model takes " + dims[2] + "x" + dims[3] + " images, this one is "
                        + s.dim(1) + "x" + s.dim(2) + "; export with --dynamic to run any size");
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + firstLine(e));
        }
        Tensor logits = run(Tensor.of(Shape.of(1, s.dim(0), s.dim(1), s.dim(2)), image.data()));
        int k = logits.shape().dim(1);
        int plane = s.dim(1) * s.dim(2);
        float[] z = logits.data();
        float[] out = new float[plane];
        for (int p = 0; p < plane; p++) {
            int best = 0;
            for (int c = 1; c < k; c++) {
                if (z[c * plane + p] > z[best * plane + p]) {
                    best = c;
                }
            }
            out[p] = best;
        }
        return out;
    }

    /** Logits of normalised images [N, 3, H, W]. */
    public Tensor run(Tensor image) {
        Shape s = image.shape();
        long[] dims = {s.dim(0), s.dim(1), s.dim(2), s.dim(3)};
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(image.data()), dims);
             OrtSession.Result r = session.run(Map.of(OnnxExporter.INPUT, in))) {
            OnnxTensor out = (OnnxTensor) r.get(0);
            long[] os = out.getInfo().getShape();
            FloatBuffer fb = out.getFloatBuffer();
            float[] data = new float[fb.remaining()];
            fb.get(data);
            return Tensor.of(Shape.of((int) os[0], (int) os[1], (int) os[2], (int) os[3]), data);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on an image of " + s + ": " + firstLine(e));
        }
    }

    private static String firstLine(Exception e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + firstLine(e));
        }
    }
}
