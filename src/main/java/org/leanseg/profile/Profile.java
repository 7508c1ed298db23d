package org.leanseg.profile;

/**
 * A profiled training step: the plan, who holds its peak ({@link StageBreakdown}) and what running
 * it measured. {@link ProfileReport} writes it as a terminal summary and JSON, {@link ProfileHtml}
 * as a page with charts.
 *
 * <pre>{@code
 * Profile p = StepProfiler.run(StepPlan.of(cfg, 2, 256, 256), new ReferenceBackend(), 2, 1);
 * System.out.print(ProfileReport.summary(p));
 * }</pre>
 */
public record Profile(StepPlan plan, StageBreakdown breakdown, Measured measured) {
}
