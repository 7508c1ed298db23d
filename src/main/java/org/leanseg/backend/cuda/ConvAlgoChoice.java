package org.leanseg.backend.cuda;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * How a cuDNN convolution algorithm is chosen from cuDNN's candidates (pure policy, tested on the CPU):
 * <ul>
 *   <li>{@code deterministic} ({@code train.deterministic: true}, bitwise-repeatable steps): the candidates in
 *   the order of cuDNN's heuristic ranking ({@code Get*Algorithm_v7}); the first that succeeds, fits the
 *   workspace limit and is deterministic; if none is deterministic, the first that succeeds and fits.</li>
 *   <li>otherwise (the default): the candidates as {@code cudnnFind*AlgorithmEx} timed them on the real
 *   buffers; the fastest that succeeds and fits, deterministic or not (PyTorch's {@code cudnn.benchmark}
 *   with {@code deterministic=False}).</li>
 * </ul>
 * No candidate that fits: a one-line error naming the shape and the limit.
 */
public final class ConvAlgoChoice {
    private ConvAlgoChoice() {
    }

    /** One candidate as cuDNN reports it; {@code ms} < 0 where not timed (heuristics). */
    public record Candidate(int algo, boolean ok, boolean deterministic, long workspaceBytes, float ms) {
    }

    /** The chosen algorithm, its workspace, whether it is deterministic, its measured time (-1: not timed). */
    public record Algo(int algo, long workspaceBytes, boolean deterministic, float ms) {
    }

    public static Algo choose(String what, List<Candidate> candidates, long limit, boolean deterministic) {
        List<Candidate> fit = new ArrayList<>();
        for (Candidate c : candidates) {
            if (c.ok() && c.workspaceBytes() <= limit) {
                fit.add(c);
            }
        }
        if (fit.isEmpty()) {
            throw new CudaException("cuDNN has no " + what + " algorithm within the workspace limit of " + limit + " B ("
                    + candidates.size() + " candidates)");
        }
        Candidate pick;
        if (deterministic) {
            pick = fit.stream().filter(Candidate::deterministic).findFirst().orElse(fit.get(0));
        } else {
            pick = fit.stream().min(Comparator.comparingDouble(c -> c.ms() < 0 ? Double.MAX_VALUE : c.ms())).orElseThrow();
        }
        return new Algo(pick.algo(), pick.workspaceBytes(), pick.deterministic(), pick.ms());
    }
}
