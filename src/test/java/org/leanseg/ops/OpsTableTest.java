package org.leanseg.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormBackward;

/**
 * The op table with variants as attributes: one row per op class, one status per variant name and
 * device (what {@code leanseg ops} prints), and the fusions each device derives from it. The norm
 * variants keep the statuses they had as separate classes: CUDA's in-place, replay and from-output
 * kernels (BN and GN) are untested, so CUDA stays unfused.
 */
class OpsTableTest {
    private static String statuses(String row) {
        for (Ops.Entry<?> e : Ops.table()) {
            if (e.variants().get(0).equals(row)) {
                StringBuilder b = new StringBuilder();
                for (String name : e.variants()) {
                    b.append(name).append(':');
                    for (Device<?, ?> d : Device.all()) {
                        b.append(' ').append(Ops.status(d, e, name).label());
                    }
                    b.append('\n');
                }
                return b.toString();
            }
        }
        throw new AssertionError("no row " + row);
    }

    @Test
    void normVariantsKeepTheirStatusPerDevice() {
        assertEquals("""
                batch_norm: yes yes yes
                batch_norm_inplace: yes yes untested
                batch_norm_replay: yes yes untested
                """, statuses("batch_norm"));
        assertEquals("""
                batch_norm_backward: yes yes yes
                batch_norm_backward_from_output: yes yes untested
                batch_norm_eval_backward: yes yes yes
                """, statuses("batch_norm_backward"));
        assertEquals("""
                group_norm: yes host yes
                group_norm_inplace: yes host untested
                """, statuses("group_norm"));
        assertEquals("""
                group_norm_backward: yes host yes
                group_norm_backward_from_output: yes host untested
                """, statuses("group_norm_backward"));
    }

    @Test
    void namesFollowTheAttributes() {
        Map<Op, String> names = new LinkedHashMap<>();
        for (BatchNorm.Mode m : BatchNorm.Mode.values()) {
            names.put(BatchNorm.of(m), m.opName());
        }
        names.put(BatchNormBackward.of(BatchNormBackward.Source.X), "batch_norm_backward");
        names.put(BatchNormBackward.of(BatchNormBackward.Source.Y), "batch_norm_backward_from_output");
        names.put(BatchNormBackward.eval(1e-5), "batch_norm_eval_backward");
        names.put(new GroupNorm(2, 1e-5), "group_norm");
        names.put(new GroupNorm(2, 1e-5, true), "group_norm_inplace");
        names.put(new GroupNormBackward(2, GroupNormBackward.Source.X), "group_norm_backward");
        names.put(new GroupNormBackward(2, GroupNormBackward.Source.Y), "group_norm_backward_from_output");
        names.forEach((op, name) -> {
            assertEquals(name, op.name());
            assertTrue(Ops.entry(op).variants().contains(name), name + " is a variant of its row");
        });
        assertEquals(List.of("batch_norm", "batch_norm_inplace", "batch_norm_replay"), Ops.entry(BatchNorm.class).variants());
    }

    @Test
    void runsIsPerVariant() {
        assertTrue(Ops.runs(Device.CUDA, BatchNorm.of(true)));
        assertTrue(Ops.runs(Device.CUDA, BatchNorm.of(false)));
        assertFalse(Ops.runs(Device.CUDA, BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE)));
        assertFalse(Ops.runs(Device.CUDA, BatchNorm.of(BatchNorm.Mode.REPLAY)));
        assertFalse(Ops.runs(Device.CUDA, new GroupNorm(2, 1e-5, true)));
        assertTrue(Ops.runs(Device.CPU, new GroupNorm(2, 1e-5, true)), "host fallback");
        assertTrue(Ops.runs(Device.CPU, BatchNormBackward.of(BatchNormBackward.Source.Y)));
        assertFalse(Ops.runs(Device.CUDA, new GroupNormBackward(2, GroupNormBackward.Source.Y)), "untested on CUDA");
        assertTrue(Ops.runs(Device.CUDA, new GroupNormBackward(2, GroupNormBackward.Source.X)));
    }

    @Test
    void untestedKernelsRunOnlyWhenOptedIn() {
        // Note [Running untested kernels]
        org.leanseg.ops.elementwise.Activation relu = org.leanseg.ops.elementwise.Activation.relu();
        org.leanseg.tensor.TensorSpec bf16 = new org.leanseg.tensor.TensorSpec(org.leanseg.tensor.Shape.of(2, 3), org.leanseg.tensor.DType.BF16);
        String before = System.getProperty(Ops.UNTESTED_PROPERTY);
        try {
            System.setProperty(Ops.UNTESTED_PROPERTY, "cuda");
            assertTrue(Ops.runs(Device.CUDA, BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE)), "untested, opted in");
            assertEquals(Ops.Status.UNTESTED, Ops.status(Device.CUDA, BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE)), "still shown untested");
            assertEquals(StepPasses.FUSED.withNativeOnly(false), StepPasses.forDevice(Device.CUDA), "cuda gets the fused step");
            assertTrue(Ops.cell(Device.CUDA, relu, List.of(bf16), List.of(bf16)) != null, "cuda's 16-bit relu kernel, opted in");
            System.setProperty(Ops.UNTESTED_PROPERTY, "cpu");
            assertFalse(Ops.runs(Device.CUDA, BatchNorm.of(BatchNorm.Mode.TRAIN_IN_PLACE)), "another device named");
            assertNull(Ops.cell(Device.CUDA, relu, List.of(bf16), List.of(bf16)), "untested 16-bit kernel: widened copies instead");
        } finally {
            if (before == null) {
                System.clearProperty(Ops.UNTESTED_PROPERTY);
            } else {
                System.setProperty(Ops.UNTESTED_PROPERTY, before);
            }
        }
        assertEquals(StepPasses.NONE, StepPasses.forDevice(Device.CUDA));
    }

    @Test
    void fusedPassesPerDeviceFollowTheTable() {
        assertEquals(StepPasses.FUSED, StepPasses.forDevice(Device.REFERENCE));
        assertEquals(StepPasses.FUSED.withNativeOnly(false), StepPasses.forDevice(Device.CPU),
                "the cpu backend has no kernels of its own for the dense activation conv, the in-place data gradient and the BN backward through a 1x1 conv");
        assertEquals(StepPasses.NONE, StepPasses.forDevice(Device.CUDA), "CUDA's fused variants are untested or absent");
    }
}
