package org.leanseg.memory.recompute;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.RecomputeChoice;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.Workspace;

/**
 * What the training step recomputes in backward instead of keeping (issue 4), spelled as on the
 * command line and in {@code train.recompute}:
 * <ul>
 *   <li>{@code none}: keep what backward reads (fusion's cheap-op recompute still applies);</li>
 *   <li>{@code stages}: checkpoint at backbone-stage, ASPP, decoder (and aux-head) boundaries: keep
 *       the values that cross a stage boundary, recompute each stage's inside before its backward;</li>
 *   <li>{@code sqrt}: Chen et al. 2016: about √n segments of about √n forward ops each, cut where
 *       the fewest bytes cross;</li>
 *   <li>{@code auto:<bytes>}: the fewest recompute FLOPs whose plan's peak (activations +
 *       persistent + workspace) fits the budget, chosen exactly on the chain of stage insides and on
 *       that of {@code sqrt}'s segments ({@link OptimalRecompute}, issue 11); a {@link BudgetException}
 *       when even the most of either does not fit;</li>
 *   <li>{@code auto-greedy:<bytes>}: the stage insides with the fewest extra FLOPs per byte saved,
 *       until the plan fits ({@link AutoRecompute}); a {@link BudgetException} when even
 *       {@code stages} does not fit.</li>
 * </ul>
 * Every policy leaves the math alone: a recomputed training BatchNorm replays its batch statistics
 * without updating the running ones ({@link org.leanseg.ops.norm.BatchNorm.Mode#REPLAY}), so losses,
 * gradients and BN buffers equal those of {@code none}.
 *
 * <pre>{@code
 * RecomputePolicy p = RecomputePolicy.parse("auto:6GiB");
 * Step s = StepBuilder.training(model, 8, 512, 512).passes(StepPasses.FUSED.withRecompute(p)).build();
 * }</pre>
 * Check: {@code mvn -q test -Dtest=RecomputePolicyTest}.
 *
 * @param kind which policy
 * @param budget the byte budget of {@code auto}, else null
 */
public record RecomputePolicy(Kind kind, ByteSize budget) implements RecomputeChoice {
    /** The policies. */
    public enum Kind {
        NONE, STAGES, SQRT, AUTO, AUTO_GREEDY;

        /** Whether the policy has a byte budget. */
        public boolean budgeted() {
            return this == AUTO || this == AUTO_GREEDY;
        }
    }

    /** How the policies are spelled, for messages. */
    public static final String ALLOWED = "none, stages, sqrt, auto:<bytes> (e.g. auto:6GiB) or auto-greedy:<bytes>";

    public RecomputePolicy {
        if (kind.budgeted() != (budget != null)) {
            throw new IllegalArgumentException("a byte budget goes with auto and auto-greedy, and only with them: " + kind + ", " + budget);
        }
    }

    public static RecomputePolicy none() {
        return new RecomputePolicy(Kind.NONE, null);
    }

    public static RecomputePolicy stages() {
        return new RecomputePolicy(Kind.STAGES, null);
    }

    public static RecomputePolicy sqrt() {
        return new RecomputePolicy(Kind.SQRT, null);
    }

    public static RecomputePolicy auto(ByteSize budget) {
        return new RecomputePolicy(Kind.AUTO, budget);
    }

    /** The greedy {@code auto-greedy:<bytes>} (fewest FLOPs per byte saved first). */
    public static RecomputePolicy autoGreedy(ByteSize budget) {
        return new RecomputePolicy(Kind.AUTO_GREEDY, budget);
    }

    /** This policy's kind at another budget (a budgeted one), e.g. capped by {@code --memory-budget}. */
    public RecomputePolicy withBudget(ByteSize other) {
        return new RecomputePolicy(kind, other);
    }

    /** Parses {@code none}, {@code stages}, {@code sqrt}, {@code auto:<bytes>} or {@code auto-greedy:<bytes>}; the exception names what is allowed. */
    public static RecomputePolicy parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        switch (t) {
            case "none":
                return none();
            case "stages":
                return stages();
            case "sqrt":
                return sqrt();
            default:
                break;
        }
        for (Kind k : List.of(Kind.AUTO, Kind.AUTO_GREEDY)) {
            String prefix = spelling(k) + ":";
            if (!t.startsWith(prefix)) {
                continue;
            }
            try {
                return new RecomputePolicy(k, ByteSize.parse(text.trim().substring(prefix.length())));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'" + text + "': " + e.getMessage());
            }
        }
        String hint = t.equals("auto") || t.equals("auto-greedy") ? "; " + t + " needs a budget, e.g. " + t + ":6GiB" : "";
        throw new IllegalArgumentException("'" + text + "' is not a recompute policy (expected " + ALLOWED + ")" + hint);
    }

    /** {@code auto}'s trials are {@code rewrite}'s graphs, counting the ops' own workspace ({@link Workspace#OP}). */
    @Override
    public Set<Node> choose(Graph step, Set<Node> base, Rewrite rewrite) {
        return choose(step, base, new Trials(rewrite, Workspace.OP));
    }

    /**
     * This policy with {@code auto}'s trial plans counting {@code workspace}, as the step builder
     * plans the step ({@code StepBuilder.workspace}); prints as the policy.
     */
    public RecomputeChoice plannedWith(Workspace workspace) {
        RecomputePolicy policy = this;
        return new RecomputeChoice() {
            @Override
            public Set<Node> choose(Graph step, Set<Node> base, Rewrite rewrite) {
                return policy.choose(step, base, new Trials(rewrite, workspace));
            }

            @Override
            public String toString() {
                return policy.toString();
            }
        };
    }

    private Set<Node> choose(Graph step, Set<Node> base, Trials trials) {
        return switch (kind) {
            case NONE -> base;
            case STAGES -> {
                Segments s = Segments.byStage(step, DeadCode.schedule(step));
                yield s.withBase(base, s.allInterior());
            }
            case SQRT -> {
                Segments s = Segments.sqrt(step, DeadCode.schedule(step));
                yield s.withBase(base, s.allInterior());
            }
            case AUTO -> OptimalRecompute.choose(step, base, trials, budget);
            case AUTO_GREEDY -> AutoRecompute.choose(step, base, trials, budget);
        };
    }

    @Override
    public String toString() {
        return kind.budgeted() ? spelling(kind) + ":" + budget : spelling(kind);
    }

    private static String spelling(Kind k) {
        return k.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
