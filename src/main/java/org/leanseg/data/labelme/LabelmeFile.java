package org.leanseg.data.labelme;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import org.leanseg.data.DatasetException;

/**
 * One labelme annotation file, parsed and checked: the image's size and source, and its shapes in
 * file order (the order they are painted). Every problem is one {@link DatasetException} naming
 * the JSON file, the shape and the fix. Format: labelme's {@code LabelFile} (versions 3 to 5):
 * {@code shapes[]} of {@code label}, {@code points} [[x, y], ...] and {@code shape_type}
 * (absent = polygon), plus {@code imagePath}, {@code imageData} (base64, optional),
 * {@code imageHeight} and {@code imageWidth}.
 *
 * <pre>{@code
 * LabelmeFile f = LabelmeFile.parse(Path.of("ann/cat_1.json"));
 * for (LabelmeFile.Shape s : f.shapes()) { System.out.println(s.label() + " " + s.type()); }
 * }</pre>
 *
 * @param json the file
 * @param height image rows (0 when the file does not say; then read from the image)
 * @param width image columns (0 when the file does not say)
 * @param imagePath the image, resolved against the JSON's folder (null when not given)
 * @param imageData the embedded image bytes, or null
 * @param shapes the shapes in file order
 */
public record LabelmeFile(Path json, int height, int width, Path imagePath, byte[] imageData, List<Shape> shapes) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** labelme's shape types. */
    public enum Type {
        POLYGON(3), RECTANGLE(2), CIRCLE(2), LINE(2), LINESTRIP(2), POINT(1);

        /** The fewest points the shape needs. */
        final int minPoints;

        Type(int minPoints) {
            this.minPoints = minPoints;
        }

        /** Rectangle, circle and line take exactly two points, a point exactly one. */
        boolean fixedCount() {
            return this != POLYGON && this != LINESTRIP;
        }
    }

    /**
     * One shape.
     *
     * @param label its class name
     * @param type its kind
     * @param points [n][2] x, y in pixels
     * @param number 1-based position in the file, for messages
     */
    public record Shape(String label, Type type, double[][] points, int number) {
    }

    /** Reads and checks {@code json}. */
    public static LabelmeFile parse(Path json) {
        JsonNode root;
        try {
            root = JSON.readTree(json.toFile());
        } catch (JsonProcessingException e) {
            throw new DatasetException(json, "not valid JSON (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage() + "); re-save it from labelme "
                    + "or fix the syntax", e);
        } catch (IOException e) {
            throw new DatasetException(json, "cannot read the file (" + e + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new DatasetException(json, "not a labelme file: the top level must be a JSON object with 'shapes'");
        }
        JsonNode shapes = root.get("shapes");
        if (shapes == null || !shapes.isArray()) {
            throw new DatasetException(json, "not a labelme file: no 'shapes' array; was it written by labelme?");
        }
        List<Shape> out = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            out.add(shape(json, shapes.get(i), i + 1));
        }
        int h = size(json, root, "imageHeight");
        int w = size(json, root, "imageWidth");
        if ((h == 0) != (w == 0)) {
            throw new DatasetException(json, "has only one of imageHeight and imageWidth; give both or neither");
        }
        JsonNode path = root.get("imagePath");
        Path image = path != null && path.isTextual() && !path.asText().isBlank()
                ? json.toAbsolutePath().getParent().resolve(path.asText().replace('\\', '/')).normalize() : null;
        JsonNode data = root.get("imageData");
        byte[] bytes = null;
        if (data != null && data.isTextual() && !data.asText().isEmpty()) {
            try {
                bytes = Base64.getMimeDecoder().decode(data.asText());
            } catch (IllegalArgumentException e) {
                throw new DatasetException(json, "imageData is not valid base64 (" + e.getMessage() + "); re-save the "
                        + "file from labelme or set imageData to null", e);
            }
        }
        return new LabelmeFile(json, h, w, image, bytes, List.copyOf(out));
    }

    private static int size(Path json, JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return 0;
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
            throw new DatasetException(json, key + " must be a positive integer, got " + n);
        }
        return n.asInt();
    }

    private static Shape shape(Path json, JsonNode s, int number) {
        String where = "shape " + number;
        if (!s.isObject()) {
            throw new DatasetException(json, where + " is not a JSON object");
        }
        JsonNode label = s.get("label");
        if (label == null || !label.isTextual()) {
            throw new DatasetException(json, where + " has no text 'label'");
        }
        where += " ('" + label.asText() + "')";
        JsonNode typeNode = s.get("shape_type");
        String typeName = typeNode == null || typeNode.isNull() ? "polygon" : typeNode.asText();
        Type type;
        try {
            type = Type.valueOf(typeName.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new DatasetException(json, where + " has shape_type '" + typeName + "', which cannot be converted; "
                    + "supported: polygon, rectangle, circle, line, linestrip, point (redraw it as a polygon)", e);
        }
        double[][] points = points(json, where, s.get("points"));
        boolean countOk = type.fixedCount() ? points.length == type.minPoints : points.length >= type.minPoints;
        if (!countOk) {
            throw new DatasetException(json, where + " is a " + typeName + " with " + points.length + " point(s); it "
                    + "needs " + (type.fixedCount() ? "exactly " : "at least ") + type.minPoints
                    + " (delete or redraw the shape in labelme)");
        }
        return new Shape(label.asText(), type, points, number);
    }

    private static double[][] points(Path json, String where, JsonNode pts) {
        if (pts == null || !pts.isArray()) {
            throw new DatasetException(json, where + " has no 'points' array");
        }
        double[][] out = new double[pts.size()][];
        for (int i = 0; i < pts.size(); i++) {
            JsonNode p = pts.get(i);
            if (!p.isArray() || p.size() != 2 || !p.get(0).isNumber() || !p.get(1).isNumber()
                    || !Double.isFinite(p.get(0).asDouble()) || !Double.isFinite(p.get(1).asDouble())) {
                throw new DatasetException(json, where + ": point " + (i + 1) + " must be [x, y] numbers, got " + p);
            }
            out[i] = new double[] {p.get(0).asDouble(), p.get(1).asDouble()};
        }
        return out;
    }

    /** The stem of the JSON file: the sample's id. */
    public String stem() {
        String n = json.getFileName().toString();
        return n.endsWith(".json") ? n.substring(0, n.length() - 5) : n;
    }

    /** Whether the image's bytes are available (embedded or as a file). */
    public boolean hasImage() {
        return imageData != null || imagePath != null && Files.isRegularFile(imagePath);
    }
}
