package org.leanseg.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.models.ModelConfig;
import org.leanseg.profile.StepPlan;
import org.leanseg.profile.StepProfiler;

/**
 * {@link Executor#adoptVariables}: before any run, the backend holds exactly the planned arena plus
 * the planned persistent tensors (what {@code plan --device} measures on a GPU); on the host
 * {@link StepProfiler#allocate} measures nothing.
 */
class AdoptVariablesTest {
    @Test
    void arenaPlusVariablesAreThePlannedBytesBeforeAnyRun() {
        StepPlan plan = StepPlan.of(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withClasses(3), 1, 32, 32,
                StepPasses.FUSED);
        VariableStore store = new VariableStore();
        plan.network().params().initialize(store, 1);
        try (ReferenceBackend ref = new ReferenceBackend();
             Executor ex = new Executor(plan.train().stepGraph(), ref, store, plan.plan(), Executor.Options.defaults())) {
            assertEquals(plan.report().activationPeakBytes(), ref.currentBytes(), "the arena only, before adoption");
            ex.adoptVariables();
            assertEquals(plan.report().activationPeakBytes() + plan.report().persistentBytes(), ref.currentBytes());
            ex.adoptVariables();   // idempotent
            assertEquals(plan.report().activationPeakBytes() + plan.report().persistentBytes(), ref.currentBytes());
            assertNull(StepProfiler.allocate(plan, ref, 1));
        }
    }
}
