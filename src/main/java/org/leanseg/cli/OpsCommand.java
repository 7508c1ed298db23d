package org.leanseg.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.leanseg.ops.Device;
import org.leanseg.ops.Ops;
import picocli.CommandLine.Command;

/**
 * {@code leanseg ops}: the op table as a matrix of op x device, one line per variant (an op
 * class's attributes make several names: {@code batch_norm_inplace} is a mode of {@code batch_norm}'s
 * row). A cell says {@code yes} (a kernel
 * checked against the reference there), {@code untested} (a kernel that has not run there yet) or
 * what the device does without one ({@code host} for the host fallback, {@code -} for none); then the same on
 * bf16/fp16 data per device ({@code widened}: the float32 kernel on float32 copies, Note [Widened 16-bit runs]).
 */
@Command(name = "ops", description = "Print the op table: which device runs each op, and how.")
public final class OpsCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.print(matrix());
        return 0;
    }

    static String matrix() {
        List<Device<?, ?>> devices = Device.all();
        StringBuilder b = new StringBuilder();
        String row = "%-44s %-12s";
        b.append(String.format(row, "op", "family"));
        for (Device<?, ?> d : devices) {
            b.append(String.format(" %-10s", d.key()));
        }
        for (Device<?, ?> d : devices) {
            b.append(String.format(" %-12s", d.key() + " 16-bit"));
        }
        b.append('\n');
        for (Ops.Entry<?> e : Ops.table()) {
            for (String name : e.variants()) {
                b.append(String.format(row, name, e.family()));
                for (Device<?, ?> d : devices) {
                    b.append(String.format(" %-10s", Ops.status(d, e, name).label()));
                }
                for (Device<?, ?> d : devices) {
                    b.append(String.format(" %-12s", Ops.status16(d, e, name)));
                }
                b.append('\n');
            }
        }
        b.append('\n').append("yes: kernel checked against the reference; untested: kernel not yet run on its device;\n")
                .append("host: no kernel, runs through the device's host fallback (reference kernel on host copies); -: not available;\n")
                .append("16-bit (train.precision bf16/fp16): widened: the float32 kernel on float32 copies of the 16-bit tensors,\n")
                .append("made and rounded back on the device (untested 16-bit kernels run only with LEANSEG_UNTESTED=<device>)\n");
        for (Device<?, ?> d : devices) {
            b.append(String.format("%-10s %s%n", d.key(), d.description()));
        }
        return b.toString();
    }
}
