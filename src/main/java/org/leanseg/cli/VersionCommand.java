package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.backend.reference.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/** {@code leanseg version}: the version, the JVM and the reference backend's thread count. */
@Command(name = "version", description = "Print the LeanSeg version and runtime facts.")
public final class VersionCommand implements Callable<Integer> {
    static String version() {
        String v = VersionCommand.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    @Override
    public Integer call() {
        System.out.println("LeanSeg " + version());
        System.out.println("java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        System.out.println("reference backend threads: " + Parallel.threads());
        return 0;
    }

    /** picocli's --version. */
    public static final class Provider implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"LeanSeg " + version()};
        }
    }
}
