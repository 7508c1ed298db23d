package org.leanseg.profile;

import org.leanseg.backend.DeviceMemory;

/**
 * A step plan's memory allocated on a device without running it ({@link StepProfiler#allocate}):
 * what the backend allocated (arena + variables) and the device's free memory before and after, as
 * the driver reports it.
 *
 * <pre>{@code
 * DeviceAllocation a = StepProfiler.allocate(plan, cudaBackend, 1);
 * a.driverBytes();   // free before minus free after (cudaMemGetInfo)
 * }</pre>
 */
public record DeviceAllocation(long backendBytes, DeviceMemory before, DeviceMemory after) {
    /** Bytes the driver saw taken between before and after. */
    public long driverBytes() {
        return before.freeBytes() - after.freeBytes();
    }
}
