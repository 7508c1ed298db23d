package org.leanseg.cli;

import java.util.concurrent.Callable;
import org.leanseg.ops.Ops;
import picocli.CommandLine.Command;

/** {@code leanseg ops}: the op table with the backends that implement each op. */
@Command(name = "ops", description = "List every op and which backends implement it.")
public final class OpsCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.printf("%-40s %-12s %-10s %s%n", "op", "family", "reference", "cuda");
        for (Ops.Entry<?> e : Ops.table()) {
            System.out.printf("%-40s %-12s %-10s %s%n", e.names(), e.family(),
                    e.reference() != null ? "yes" : "-", e.cuda() != null ? e.cuda() : "-");
        }
        return 0;
    }
}
