package org.leanseg.io;

import java.io.IOException;

/** A consumer that may throw {@link IOException}, e.g. the body of {@link AtomicFiles#write}. */
@FunctionalInterface
public interface IOConsumer<T> {
    void accept(T value) throws IOException;
}
