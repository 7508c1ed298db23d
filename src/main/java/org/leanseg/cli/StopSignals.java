package org.leanseg.cli;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C (SIGINT) and SIGTERM during {@code train}: the first asks the trainer to stop after the
 * current step (it saves a checkpoint, logs it and returns; the command exits 128 + the signal's
 * number, 130 or 143, as a shell reports a killed process); a second exits at once. Outside the
 * try-with-resources scope the JVM's own handlers are back.
 *
 * <p>Uses {@code sun.misc.Signal} (module jdk.unsupported), the JDK's only signal hook; where a
 * signal cannot be handled (e.g. SIGINT under {@code nohup}) it is left alone.
 * Check: {@code mvn -B -q test -Dtest=SignalTest}.
 */
final class StopSignals implements AutoCloseable {
    private static final Map<String, Integer> NUMBERS = Map.of("INT", 2, "TERM", 15);
    private final Map<Signal, SignalHandler> previous = new HashMap<>();

    private StopSignals() {
    }

    /** Installs the handlers; {@code stop} gets "SIGINT" or "SIGTERM" on the first signal. */
    static StopSignals install(Consumer<String> stop) {
        StopSignals s = new StopSignals();
        AtomicBoolean asked = new AtomicBoolean();
        for (String name : NUMBERS.keySet()) {
            Signal signal = new Signal(name);
            SignalHandler handler = sig -> {
                String what = "SIG" + sig.getName();
                if (asked.getAndSet(true)) {
                    System.err.println("leanseg train: second " + what + ": exiting now, without a checkpoint");
                    Runtime.getRuntime().halt(exitCode(what));
                }
                System.err.println("leanseg train: " + what + ": finishing this step and saving a checkpoint "
                        + "(send it again to exit at once)");
                stop.accept(what);
            };
            try {
                s.previous.put(signal, Signal.handle(signal, handler));
            } catch (IllegalArgumentException notHandled) {
                // e.g. SIGINT ignored by nohup: keep the JVM's behaviour
            }
        }
        return s;
    }

    /** 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM. */
    static int exitCode(String signal) {
        return 128 + NUMBERS.getOrDefault(signal.replaceFirst("^SIG", ""), 15);
    }

    @Override
    public void close() {
        previous.forEach(Signal::handle);
    }
}
