package org.leanseg.models;

import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.nn.BatchNorm2d;
import org.leanseg.nn.Conv;
import org.leanseg.nn.ConvBNAct;
import org.leanseg.nn.ParamSet;
import org.leanseg.nn.Trace;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.GlobalAvgPool;
import org.leanseg.ops.shape.Resize;

/**
 * ASPP (MODEL_SPEC.md): 1x1, three dilated 3x3 and an image-pooling branch, concatenated and
 * projected. See Note [ASPP pooling at batch 1].
 *
 * <p>Note [ASPP pooling at batch 1]: the pooling branch's BN sees one value per channel and
 * image, so at batch 1 batch statistics are degenerate (PyTorch raises). LeanSeg then normalises
 * that branch with its running statistics (eval-mode BN for that branch only, no running-stat
 * update) so batch-1 training works and the branch still passes gradients. Other batch sizes
 * follow PyTorch exactly.
 */
public final class Aspp {
    private final ConvBNAct[] branches = new ConvBNAct[4];
    private final Conv poolConv;
    private final BatchNorm2d poolBn;
    private final ConvBNAct project;

    public Aspp(ParamSet ps, int cin, int c, int[] rates, double eps) {
        branches[0] = new ConvBNAct(ps, "aspp.convs.0", cin, c, 1, 1, 1, 1, eps, Activation.relu());
        for (int i = 0; i < 3; i++) {
            branches[i + 1] = new ConvBNAct(ps, "aspp.convs." + (i + 1), cin, c, 3, 1, rates[i], 1, eps, Activation.relu());
        }
        poolConv = new Conv(ps, "aspp.convs.4.1", cin, c, 1, 1, 1, 1, false);
        poolBn = new BatchNorm2d(ps, "aspp.convs.4.2", c, eps);
        project = new ConvBNAct(ps, "aspp.project", 5 * c, c, 1, 1, 1, 1, eps, Activation.relu());
    }

    public Value forward(Trace t, Value x) {
        Graph g = t.g();
        try (var s = g.scope("aspp")) {
            Value[] outs = new Value[5];
            for (int i = 0; i < 4; i++) {
                try (var sb = g.scope("convs." + i)) {
                    outs[i] = branches[i].forward(t, x);
                }
            }
            try (var sb = g.scope("convs.4")) {
                int n = x.spec().shape().dim(0);
                Value p = g.apply1(new GlobalAvgPool(), x);
                p = poolBn.forward(t, poolConv.forward(t, p), t.training() && n > 1);
                p = g.apply1(Activation.relu(), p);
                outs[4] = g.apply1(new Resize(x.spec().shape().dim(2), x.spec().shape().dim(3), false), p);
            }
            try (var sb = g.scope("project")) {
                return project.forward(t, g.apply1(new Concat(), outs));
            }
        }
    }
}
