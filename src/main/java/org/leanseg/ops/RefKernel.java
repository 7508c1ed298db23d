package org.leanseg.ops;

import org.leanseg.backend.reference.RefView;

/** A reference (pure Java) kernel for op type {@code O}: reads {@code in}, writes {@code out}. */
@FunctionalInterface
public interface RefKernel<O extends Op> {
    void run(O op, RefView[] in, RefView[] out);
}
