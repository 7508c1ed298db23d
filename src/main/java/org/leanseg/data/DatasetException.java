package org.leanseg.data;

import java.nio.file.Path;

/**
 * One bad input in a dataset: the message names the file, what is wrong with it and how to fix
 * it, e.g. {@code "labels/cat_3.png: mask is 500x375 but its image images/cat_3.jpg is 375x500;
 * masks must have the image's size (was the image rotated?)"}. Raised by the datasets, the
 * loader (rethrown from its worker threads unchanged) and the labelme converter.
 *
 * <pre>{@code
 * try { ds.get(7, null); } catch (DatasetException e) { System.err.println(e.getMessage()); }
 * }</pre>
 */
public class DatasetException extends RuntimeException {
    private final transient Path file;
    private final String problem;

    /** {@code file} may be null when the problem is not one file's (e.g. an empty dataset). */
    public DatasetException(Path file, String problem) {
        super(file == null ? problem : file + ": " + problem);
        this.file = file;
        this.problem = problem;
    }

    public DatasetException(Path file, String problem, Throwable cause) {
        super(file == null ? problem : file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** What is wrong and the fix, without the file name. */
    public String problem() {
        return problem;
    }

    /** The offending file, or null. */
    public Path file() {
        return file;
    }
}
