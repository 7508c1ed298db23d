package org.leanseg.backend.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.View;
import org.leanseg.ops.Ops;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** The reference backend's memory counters: arenas, adopted variables once each, a kernel's measured scratch. */
class ReferenceBackendMemoryTest {
    @Test
    void countsArenasVariablesAndKernelScratch() {
        ReferenceBackend b = new ReferenceBackend();
        var arena = b.allocate(1000);
        assertEquals(1000, b.currentBytes());
        Tensor w = Tensor.gaussian(Shape.of(64, 32, 3, 3), 1, new Random(1));
        b.adopt(w);
        b.adopt(w);
        assertEquals(1000 + w.spec().bytes(), b.currentBytes(), "a variable adopted twice counts once");
        assertEquals(b.currentBytes(), b.peakBytes());

        // a 3x3 backward-data convolution allocates its column buffer on the heap
        Conv2dBackwardData op = new Conv2dBackwardData(Conv2d.of(1, 1, 1, 1), 24, 24);
        TensorSpec dySpec = TensorSpec.f32(2, 64, 24, 24);
        var buf = b.allocate(4L * (2 * 64 * 24 * 24 + 2 * 32 * 24 * 24));
        View dy = b.view(buf, 0, dySpec);
        View dx = b.view(buf, dySpec.bytes(), TensorSpec.f32(2, 32, 24, 24));
        View wv = b.view(b.adopt(w), 0, w.spec());
        long held = b.currentBytes();
        Ops.run(b, op, new View[] {dy, wv}, new View[] {dx});
        long declared = op.workspaceBytes(List.of(dySpec, w.spec()));
        assertTrue(declared > 0);
        if (ScratchMeter.supported()) {
            assertTrue(b.lastScratchBytes() >= declared, b.lastScratchBytes() + " measured vs " + declared + " declared");
            assertTrue(b.lastScratchBytes() < declared + (4 << 20), "little beyond the column buffer and packing panels");
            assertEquals(held + b.peakScratchBytes(), b.peakBytes());
        }
        assertEquals(held, b.currentBytes(), "scratch is not held between kernels");

        // an in-place ReLU needs no scratch worth the name (its first run also loads classes)
        Ops.run(b, Activation.relu(), new View[] {dy}, new View[] {dy});
        Ops.run(b, Activation.relu(), new View[] {dy}, new View[] {dy});
        assertTrue(b.lastScratchBytes() < 16 << 10, "relu allocated " + b.lastScratchBytes());
        assertTrue(arena != null);
    }
}
