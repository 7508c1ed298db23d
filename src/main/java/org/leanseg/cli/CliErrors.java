package org.leanseg.cli;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import picocli.CommandLine;

/**
 * One exit-code convention for every command: a failure is one line on stderr,
 * {@code leanseg <command>: <what is wrong and how to fix it>}, and exit code {@link #USAGE} (2);
 * never a stack trace ({@code -Dleanseg.trace=true} prints one for bug reports). Main installs
 * {@link #install} as picocli's handlers, so an exception a command does not catch ends the same way.
 *
 * <p>Check: {@code mvn -B -q test -Dtest=CliErrorsTest}.
 */
final class CliErrors {
    /** Exit code of bad input (arguments, config, files), as picocli uses for bad arguments. */
    static final int USAGE = 2;

    private CliErrors() {
    }

    static CommandLine install(CommandLine cl) {
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println(prefix(ex.getCommandLine()) + ex.getMessage()
                    + "; see " + fullName(ex.getCommandLine()) + " --help");
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            print(commandLine.getErr(), prefix(commandLine), ex);
            return USAGE;
        });
        return cl;
    }

    /** Prints {@code e} as one line after {@code prefix} (e.g. "leanseg eval: "). */
    static void print(PrintStream err, String prefix, Throwable e) {
        err.println(prefix + describe(e));
        if (Boolean.getBoolean("leanseg.trace")) {
            e.printStackTrace(err);
        }
    }

    static void print(java.io.PrintWriter err, String prefix, Throwable e) {
        err.println(prefix + describe(e));
        err.flush();
        if (Boolean.getBoolean("leanseg.trace")) {
            e.printStackTrace(err);
        }
    }

    /** What went wrong, in one line: the file and the OS's reason for file errors, else the message. */
    static String describe(Throwable e) {
        Throwable t = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
        String line;
        if (t instanceof NoSuchFileException f) {
            line = f.getFile() + ": no such file or directory";
        } else if (t instanceof AccessDeniedException f) {
            line = f.getFile() + ": permission denied";
        } else if (t instanceof FileAlreadyExistsException f) {
            line = f.getFile() + ": exists and is not a directory; give a directory path (or a new one)";
        } else if (t instanceof NotDirectoryException f) {
            line = f.getFile() + ": is not a directory";
        } else if (t instanceof FileSystemException f && f.getReason() != null) {
            line = f.getFile() + ": " + f.getReason().toLowerCase(java.util.Locale.ROOT);
        } else if (t instanceof OutOfMemoryError) {
            line = "out of Java heap memory; give the JVM more (-Xmx) or use a smaller batch or image size";
        } else if (t.getMessage() == null || t.getMessage().isBlank()) {
            line = "internal error (" + t.getClass().getSimpleName() + "); please report it with -Dleanseg.trace=true's stack trace";
        } else if (t instanceof RuntimeException && !(t instanceof IllegalArgumentException || t instanceof IllegalStateException
                || t.getClass().getPackageName().startsWith("org.leanseg"))) {
            line = "internal error (" + t.getClass().getSimpleName() + ": " + t.getMessage() + "); please report it with -Dleanseg.trace=true's stack trace";
        } else {
            line = t.getMessage();
        }
        return line.replace('\n', ' ');
    }

    private static String prefix(CommandLine cl) {
        return fullName(cl) + ": ";
    }

    private static String fullName(CommandLine cl) {
        return cl.getParent() == null ? cl.getCommandName() : fullName(cl.getParent()) + " " + cl.getCommandName();
    }
}
