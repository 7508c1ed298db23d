package org.leanseg.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.leanseg.data.DatasetException;
import org.leanseg.data.labelme.LabelmeConverter;
import org.leanseg.data.labelme.ShapeRaster;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code leanseg convert-labelme}: labelme JSON annotations to a folder dataset (index PNGs with
 * the VOC palette, images, classes.txt, list files); see {@link LabelmeConverter}.
 *
 * <pre>{@code
 * leanseg convert-labelme --input annotations --classes labels.txt --output my-data --val-ratio 0.1
 * }</pre>
 */
@Command(name = "convert-labelme", mixinStandardHelpOptions = true,
        description = "Convert labelme JSON files to index PNG masks (VOC palette) and list files, "
                + "a dataset for data.type=folder.")
public final class ConvertLabelmeCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, description = "folder with labelme .json files (and their images)")
    Path input;

    @Option(names = "--classes", required = true,
            description = "class names, one per line, index 0 first; a line __ignore__ maps its label to 255")
    Path classes;

    @Option(names = "--output", required = true, description = "new dataset folder (must not exist or be empty)")
    Path output;

    @Option(names = "--unknown-as-ignore",
            description = "paint shapes whose label is not in --classes as ignore (255), with a warning, "
                    + "instead of failing")
    boolean unknownAsIgnore;

    @Option(names = "--line-width", defaultValue = "10",
            description = "width of line and linestrip shapes in pixels (default: ${DEFAULT-VALUE}, as labelme)")
    double lineWidth;

    @Option(names = "--point-radius", defaultValue = "5",
            description = "radius of point shapes in pixels (default: ${DEFAULT-VALUE}, as labelme)")
    double pointRadius;

    @Option(names = "--val-ratio", defaultValue = "0",
            description = "share of samples for val.txt (the rest in train.txt); 0 writes only all.txt "
                    + "(default: ${DEFAULT-VALUE})")
    double valRatio;

    @Override
    public Integer call() throws IOException {
        try {
            LabelmeConverter converter = new LabelmeConverter(new ShapeRaster(lineWidth, pointRadius),
                    unknownAsIgnore, valRatio, System.err::println);
            converter.convert(input, classes, output);
            return 0;
        } catch (DatasetException | IllegalArgumentException e) {
            CliErrors.print(System.err, "leanseg convert-labelme: ", e);
            return CliErrors.USAGE;
        }
    }
}
