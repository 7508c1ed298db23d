package org.leanseg.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading the small text files of a dataset: split lists (one sample per line) and
 * {@code classes.txt} (one class name per line). Blank lines and lines starting with {@code #}
 * are skipped; line numbers are kept for messages.
 *
 * <pre>{@code
 * for (ListFiles.Line l : ListFiles.read(root.resolve("train.txt"), "split list")) { l.fields(); }
 * }</pre>
 */
public final class ListFiles {
    private ListFiles() {
    }

    /**
     * One non-blank line.
     *
     * @param number 1-based line number
     * @param fields whitespace-separated fields
     * @param where "file:number", for messages
     */
    public record Line(int number, String[] fields, String where) {
    }

    /** The non-blank, non-comment lines of {@code file}; {@code what} names it in errors. */
    public static List<Line> read(Path file, String what) {
        List<String> raw;
        try {
            raw = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new DatasetException(file, "the " + what + " does not exist", e);
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read the " + what + " (" + e + ")", e);
        }
        List<Line> lines = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String t = raw.get(i).strip();
            if (i == 0 && t.startsWith("\uFEFF")) { // a byte-order mark some editors write
                t = t.substring(1).strip();
            }
            if (!t.isEmpty() && !t.startsWith("#")) {
                lines.add(new Line(i + 1, t.split("\\s+"), file + ":" + (i + 1)));
            }
        }
        return lines;
    }

    /** Class names, one per line, index = order; at least one, at most 255 (255 is ignore). */
    public static List<String> classNames(Path file) {
        if (!Files.exists(file)) {
            throw new DatasetException(file, "the class-names file does not exist; write one class name per line, "
                    + "class 0 first (usually 'background')");
        }
        List<String> names = new ArrayList<>();
        for (Line l : read(file, "class-names file")) {
            names.add(String.join(" ", l.fields()));
        }
        if (names.isEmpty()) {
            throw new DatasetException(file, "no class names; write one name per line, class 0 first "
                    + "(usually 'background')");
        }
        if (names.size() > LabelMap.IGNORE) {
            throw new DatasetException(file, names.size() + " classes, but label 255 is the ignore label: at most 255 "
                    + "classes fit in an 8-bit index mask");
        }
        return names;
    }
}
