package org.leanseg.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.loss.LossCuda;
import org.leanseg.ops.shape.ShapeCuda;

/**
 * The kernels' argument lists against the parameter types nvcc compiled them with ({@link KernelSignatures}, from
 * their PTX), on the CPU: the argument builders of the kernels written since the last GPU run (tiled depthwise,
 * fused loss, resize by rows, the two-level norm kernels, the cross-entropy sums) must match their kernels, and
 * every kernel name the code launches must exist. On a GPU the same check runs before every launch
 * ({@link CudaKernels}). Skips where the build had no nvcc (no signatures).
 */
class KernelSignaturesTest {
    private static KernelSignatures sigs() {
        KernelSignatures s = KernelSignatures.builtIn();
        Assumptions.assumeTrue(s.known(), "no kernel signatures in this build (built without nvcc)");
        return s;
    }

    private static void fits(KernelSignatures s, String kernel, Object[] args) {
        assertNull(s.check(kernel, args), kernel);
    }

    @Test
    void argumentBuildersMatchTheirKernels() {
        KernelSignatures s = sigs();
        DwGrid f = DwGrid.forward(2, 8, 1, 33, 35, 33, 35, 3, 3, 1, 1, 1, 1, 1, 1, true);
        fits(s, "ls_dw_forward_k", f.args(6f, 1L, 2L, 0L, 3L, 1));
        DwGrid b = DwGrid.backwardData(2, 8, 1, 33, 35, 17, 18, 3, 3, 2, 2, 1, 1, 1, 1);
        fits(s, "ls_dw_backward_data_k", b.args(1L, 2L, 3L, 0));
        DwGrid g = DwGrid.filter(2, 8, 1, 33, 35, 33, 35, 3, 3, 1, 1, 1, 1, 1, 1, true);
        fits(s, "ls_dw_filter_k", g.args(6f, 1L, 2L, 3L, 4L, 5L, 2));
        UpLossGrid u = UpLossGrid.of(2, 21, 16, 16, 64, 64, false, 255);
        fits(s, "ls_up_ce_partial_k", u.args(1L, 2L, 0L, 3L, 4L, 1));
        fits(s, "ls_up_ce_backward_k", u.args(1L, 2L, 0L, 3L, 4L, 5L, 2));
        fits(s, "ls_up_argmax_k", u.args(1L, 2L, 0));
        fits(s, "ls_ce_finalize_k", new Object[] {u.rowBlocks(), 1L, 2L, 3L});
        fits(s, "ls_ce_partial_k", LossCuda.partialArgs(100L, 21, 0L, 0L, 1L, 255, 0L, 2L, 3L, 1));
        fits(s, "ls_resize_rows_k", ShapeCuda.rowsArgs(6, 8, 8, 32, 32, false, 1L, 2L, 0));
        fits(s, "ls_resize_backward_rows_k", ShapeCuda.rowsArgs(6, 8, 8, 32, 32, true, 1L, 2L, 1));
        NormGrid n = NormGrid.batchNorm(2, 8, 64, true);
        fits(s, "ls_norm_stats_k", CudaNormKernels.statsArgs(n, 1L, 2L, 3L, 0L, 0L, 1e-5, 0.1, 4L, 5L, 1));
        fits(s, "ls_norm_grad_k", CudaNormKernels.gradArgs(n, NormSteps.GRAD_GN_PLANE_Y, 8, 2, 1L, 2L, 3L, 4L, 0, 5L, 6L, 7L, 8L, 0));
        fits(s, "ls_gn_grad_finish_k", CudaNormKernels.gnGradFinishArgs(2, 8, 2, 64, 1L, 2L, 3L, 4L, 5L, 6L));
        fits(s, "ls_plane_affine_k", CudaNormKernels.affineArgs(NormSteps.AFF_GN_DX_FROM_Y, 16, 8, 64, 2, 256L, true, 1L, 2L, 3L, 4L, 5L,
                6L, 7L, 0L, 0, 2));
        fits(s, "ls_convert_k", CudaBackend.convertArgs(10L, 1L, 0, 2L, 1));
        fits(s, "ls_add_t_k", org.leanseg.ops.elementwise.ElementwiseCuda.addTypedArgs(10L, 1, new long[] {1L, 2L, 3L}, 4L, 1));
        for (Object[] l : org.leanseg.ops.optim.LossScaleCuda.launchesForTests()) {
            fits(s, (String) l[0], java.util.Arrays.copyOfRange(l, 1, l.length));
        }
        for (org.leanseg.ops.Op upd : List.of(new org.leanseg.ops.optim.Sgd(0.9f, true, 1e-4f, 1f, true),
                new org.leanseg.ops.optim.AdamW(0.9f, 0.999f, 1e-8f, 1e-2f, 1f, false))) {
            Object[] l = org.leanseg.ops.optim.LossScaleCuda.scaledLaunchForTests(new org.leanseg.ops.optim.LossScaled(upd));
            fits(s, (String) l[0], java.util.Arrays.copyOfRange(l, 1, l.length));
        }
    }

    @Test
    void mismatchesAreOneLineNamingTheArgument() throws IOException {
        KernelSignatures s = KernelSignatures.parse(new ByteArrayInputStream("k_k u32,f32,u64\n".getBytes(StandardCharsets.UTF_8)));
        assertNull(s.check("k_k", 1, 2f, 3L));
        assertEquals("k_k: argument 1 is Double (f64), the kernel takes f32", s.check("k_k", 1, 2.0, 3L));
        assertEquals("k_k takes 3 arguments, the launch passes 2", s.check("k_k", 1, 2f));
        assertEquals("no kernel named other_k in the fatbin", s.check("other_k"));
        assertNull(KernelSignatures.parse(new ByteArrayInputStream(new byte[0])).check("any", 1), "nothing known: nothing checked");
    }

    @Test
    void everyLaunchedKernelExists() throws IOException {
        KernelSignatures s = sigs();
        Pattern name = Pattern.compile("\"(ls_[a-z0-9_]+_k)\"");
        TreeSet<String> missing = new TreeSet<>();
        int seen = 0;
        List<Path> roots = List.of(Path.of("src/main/java"), Path.of("src/test/java"));
        for (Path root : roots) {
            Assumptions.assumeTrue(Files.isDirectory(root), "run from the repository root");
            List<Path> files = new ArrayList<>();
            try (Stream<Path> walk = Files.walk(root)) {
                walk.filter(p -> p.toString().endsWith(".java")).forEach(files::add);
            }
            for (Path p : files) {
                Matcher m = name.matcher(Files.readString(p));
                while (m.find()) {
                    seen++;
                    if (!s.names().contains(m.group(1))) {
                        missing.add(m.group(1) + " (" + p.getFileName() + ")");
                    }
                }
            }
        }
        assertTrue(seen > 20, "found the launches: " + seen);
        assertEquals(new TreeSet<>(), missing, "kernel names launched but not in the fatbin");
    }
}
