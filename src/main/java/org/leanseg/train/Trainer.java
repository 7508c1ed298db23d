package org.leanseg.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.config.TrainConfig;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.data.Loader;
import org.leanseg.eval.ConfusionMatrix;
import org.leanseg.eval.Evaluator;
import org.leanseg.eval.MemoryBudget;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.io.AtomicFiles;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.nn.BatchNorm2d;
import org.leanseg.ops.optim.LossScale;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * The training loop: data → executor step → log, progress, evaluation, atomic checkpoints.
 * Everything random derives from the seed and the data position, so {@link #run} from a
 * checkpoint continues with exactly the losses an uninterrupted run would have.
 */
public final class Trainer {
    /**
     * What a run reports.
     *
     * @param startIter the iteration it started from (0, or the resumed checkpoint's)
     * @param stoppedBy the signal that stopped it early (e.g. "SIGTERM"), or null when it ran to the end
     */
    public record Result(int iters, List<Float> losses, double lastMIoU, double bestMIoU, Path runDir, int startIter,
                         String stoppedBy) {
    }

    private final TrainingConfig cfg;
    private final PrintStream out;
    private final boolean interactive;
    private org.leanseg.data.Normalization normalization = org.leanseg.data.Normalization.imagenet();
    private boolean overwrite;
    private final List<String> notes = new ArrayList<>();
    private volatile String stopRequest;

    public Trainer(TrainingConfig cfg, PrintStream out, boolean interactive) {
        this.cfg = cfg;
        this.out = out;
        this.interactive = interactive;
    }

    /** With {@code true}, a new run into a directory that holds another run moves that run aside ({@link RunDirectory#claim}). */
    public Trainer overwrite(boolean moveAside) {
        this.overwrite = moveAside;
        return this;
    }

    /** A line for log.txt (and the terminal) after the run's header, e.g. the config keys a resume overrides. */
    public Trainer note(String line) {
        notes.add(line);
        return this;
    }

    /**
     * Asks the run to stop (signal handlers call this, from any thread): it finishes the current
     * step, writes a checkpoint, logs it and returns with {@link Result#stoppedBy} set.
     */
    public void requestStop(String why) {
        stopRequest = why;
    }

    /**
     * Runs training; {@code resume} (a checkpoint, or a run directory: its newest checkpoint that
     * verifies) continues a run, {@code loadFrom} only loads weights.
     */
    public Result run(Path resume, Path loadFrom, boolean strictLoad) throws IOException {
        TrainConfig tc = cfg.train();
        if (tc.batch().isAuto() && tc.memoryBudget() == null) {
            throw new org.leanseg.config.ConfigException("train.batch: auto needs train.memory_budget (the device memory a step "
                    + "may plan), e.g. --set train.memory_budget=6GiB; or set train.batch to a number");
        }
        List<String> skipped = new ArrayList<>();
        Path checkpoint = resume == null ? null : resolveResume(resume, skipped);
        if (checkpoint != null) {
            Checkpoints.verify(checkpoint);
        }
        if (loadFrom != null && !Files.isRegularFile(loadFrom)) {
            throw new IOException("--load-from " + loadFrom + ": " + (Files.isDirectory(loadFrom) ? "is a directory" : "no such file")
                    + "; give a .safetensors weights file");
        }
        ModelConfig mc = Datasets.modelConfig(cfg);
        VariableStore store = new VariableStore();
        // the teacher's weights join the store; a bad teacher stops the run before its directory is touched
        if (tc.distill().enabled() && tc.precision() != org.leanseg.tensor.Precision.FP32) {
            throw new org.leanseg.config.ConfigException("train.distill: " + TrainGraph.DISTILL_FP32_ONLY);
        }
        Distillation distill = tc.distill().enabled() ? Distillation.load(tc.distill(), mc, store) : null;
        Dataset train = Datasets.train(cfg);
        normalization = train.normalization();
        Dataset val = Datasets.val(cfg);
        Path dir = cfg.runDir();
        Path movedAside = checkpoint == null ? RunDirectory.claim(dir, overwrite) : null;
        Files.createDirectories(dir);
        AtomicFiles.write(dir.resolve("config.yaml"), cfg.toYaml().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        DeepLabV3Plus model = new DeepLabV3Plus(mc);
        // a training sample's shape (the crop size): get(i, null) would be a whole image
        Shape sampleShape = train.get(0, new java.util.SplittableRandom(tc.seed())).image().shape();
        int h = sampleShape.dim(1);
        int w = sampleShape.dim(2);
        OptimizerSettings sgd = optimizer(tc);
        Map<String, Variable> momenta = TrainGraph.optimizerState(model.params(), sgd, tc.precision());
        model.params().initialize(store, tc.seed());
        Checkpoints.State state = new Checkpoints.State(0, 0, 0, tc.seed(), Double.NaN, -1, List.of());
        int dropped = checkpoint == null ? 0 : RunDirectory.dropMetricsAfter(dir, Checkpoints.stateOf(checkpoint).iter());
        try (TrainLog log = new TrainLog(dir, out)) {
            log.info("LeanSeg training " + cfg.name() + ": " + mc + ", " + (tc.batch().isAuto() ? "batch auto of 3x" : "batch " + tc.batch() + "x3x") + h + "x" + w
                    + (tc.accumulate() > 1 ? " x" + tc.accumulate() + " accumulated" : "") + ", recompute " + tc.recompute()
                    + (tc.precision() != Precision.FP32 ? ", precision " + tc.precision() : "") + ", " + tc.iters() + " iterations, "
                    + model.params().parameterCount() + " parameters, " + org.leanseg.backend.reference.Parallel.threads() + " threads");
            if (movedAside != null) {
                log.info("moved the previous run's files in " + dir + " to " + movedAside + (overwrite ? " (--overwrite)" : " (it saved no checkpoint)"));
            }
            skipped.forEach(line -> log.info("warning: " + line));
            notes.forEach(log::info);
            if (distill != null) {
                log.info("distilling from " + tc.distill().teacher() + " (" + distill.teacher().config() + ", "
                        + distill.teacher().params().parameterCount() + " parameters, eval mode): " + distill.kind().name().toLowerCase(java.util.Locale.ROOT)
                        + "-wise KL at temperature " + tc.distill().temperature() + ", weight " + tc.distill().weight());
            }
            if (checkpoint != null) {
                state = Checkpoints.restore(checkpoint, model.params(), momenta, store, mc, note -> log.info("resume: " + note));
                if (state.seed() != tc.seed()) {
                    throw new IOException(checkpoint + ": checkpoint seed " + state.seed() + " differs from train.seed " + tc.seed()
                            + "; resume with the run's own config.yaml");
                }
                log.info("resumed from " + checkpoint + " at iteration " + state.iter() + " (epoch " + state.epoch() + ", batch " + state.position() + ")"
                        + (dropped > 0 ? "; dropped " + dropped + " metrics.jsonl records of later iterations, which run again" : ""));
            } else if (loadFrom != null) {
                WeightLoader.Report r = WeightLoader.load(loadFrom, model.params(), store, strictLoad, null);
                log.info("loaded weights from " + loadFrom + ": " + r);
            }
            Result r = loop(model, momenta, sgd, h, w, store, train, val, log, state, distill);
            log.info(finalLine(r));
            return r;
        }
    }

    /** The line a run ends with, in log.txt and on the terminal (mIoU in percent, as in the tables). */
    public static String finalLine(Result r) {
        if (r.stoppedBy() != null) {
            return "stopped by " + r.stoppedBy() + " after iteration " + (r.startIter() + r.losses().size()) + " of " + r.iters()
                    + "; continue with --resume; run directory " + r.runDir();
        }
        if (r.losses().isEmpty()) {
            return "nothing to do: the run had finished all " + r.iters() + " iterations; best mIoU " + IouTable.pct(r.bestMIoU())
                    + "%; raise train.iters to train on; run directory " + r.runDir();
        }
        return "done: " + r.iters() + " iterations, last mIoU " + IouTable.pct(r.lastMIoU()) + "%, best mIoU " + IouTable.pct(r.bestMIoU())
                + "%; run directory " + r.runDir();
    }

    /** The checkpoint {@code resume} names: a file as given, or a run directory's newest that verifies. */
    private static Path resolveResume(Path resume, List<String> skipped) throws IOException {
        if (!Files.isDirectory(resume)) {
            return resume;
        }
        Path found = Checkpoints.latest(resume, skipped::add);
        if (found == null) {
            throw new IOException("--resume: no checkpoint that verifies in " + resume
                    + (skipped.isEmpty() ? "" : " (" + String.join("; ", skipped) + ")")
                    + "; start without --resume, or give a checkpoint file");
        }
        return found;
    }

    private Result loop(DeepLabV3Plus model, Map<String, Variable> momenta, OptimizerSettings sgd, int h, int w, VariableStore store,
                        Dataset train, Dataset val, TrainLog log, Checkpoints.State state, Distillation distill) throws IOException {
        TrainConfig tc = cfg.train();
        Path dir = cfg.runDir();
        LrSchedule schedule = new LrSchedule(tc.schedule() == TrainConfig.Schedule.COSINE ? LrSchedule.Kind.COSINE : LrSchedule.Kind.POLY,
                tc.lr(), tc.iters(), tc.power(), tc.warmupIters(), tc.warmupRatio(), 0);
        org.leanseg.backend.Backends.Choice device = org.leanseg.backend.Backends.create(cfg.device().yamlName(),
                org.leanseg.backend.cuda.CudaBackend.Options.forTraining(tc.deterministic(), tc.cudaGraphs()));
        Backend backend = device.backend();
        log.info(device.line());
        StepPasses passes = StepPasses.forBackend(backend.name()).withRecompute(tc.recompute());
        if (distill != null && !distill.runsOn(org.leanseg.ops.Device.of(backend))) {
            backend.close();
            throw new org.leanseg.config.ConfigException("train.distill: the distillation loss has no " + backend.name()
                    + " kernel yet (leanseg ops); train with --set device=cpu or device=reference");
        }
        if (!state.stockBatchNorm().isEmpty()) {
            passes = passes.withStockBatchNorm(gammas(model, state.stockBatchNorm()));
            log.info("stock batch norm (not in place) for " + state.stockBatchNorm().size() + " layer(s), as when the checkpoint was saved: "
                    + String.join(", ", state.stockBatchNorm()));
        }
        org.leanseg.memory.ByteSize budget = StepMemory.deviceBudget(tc.memoryBudget(), backend.deviceMemory(),
                backend.unplannedAllowanceBytes(), log::info);
        StepMemory.Choice choice = StepMemory.batch(tc, budget, model.config(), h, w, sgd, passes,
                org.leanseg.ops.Ops.workspace(org.leanseg.ops.Device.of(backend)), distill);
        int batch = choice.batch();
        if (choice.line() != null) {
            log.info(choice.line());
        }
        List<Variable> counters = BatchNorm2d.counters(model.params());
        List<Float> losses = new ArrayList<>();
        double lastMIoU = Double.NaN;
        double best = state.bestMIoU();
        int bestIter = state.bestIter();
        String stoppedBy = null;
        try (Backend owned = backend;
             StepRunner runner = new StepRunner(model, batch, h, w, sgd, tc.accumulate(), backend, store, passes,
                     tc.classWeightArray(), tc.precision(), distill, log::info);
             Evaluator evaluator = new Evaluator(model, backend, store, batch, org.leanseg.eval.Inference.of(cfg.eval(), false),
                     MemoryBudget.forInference(cfg.eval().memoryBudget(), backend, h, w, log::info));
             Loader data = Loader.training(train, batch, tc.seed(), 1, new Loader.Cursor(state.epoch(), state.position()));
             Progress progress = new Progress(interactive, out, tc.iters(), state.iter())) {
            if (interactive) {
                log.echoTo(progress::println); // lines above the bar, not inside it
            }
            if (runner.precisionLine() != null) {
                log.info(runner.precisionLine());
            }
            long plannedPeakMiB = runner.plannedPeakBytes() >> 20;
            long t0 = System.nanoTime();
            long dataNanos = 0;
            int sinceLog = 0;
            Loader.Cursor cursor = new Loader.Cursor(state.epoch(), state.position());
            Loader.Batch upcoming = null;   // the next batch, already on its way to the device (Backend.prefetch)
            for (int iter = state.iter(); iter < tc.iters(); iter++) {
                float lr = (float) schedule.at(iter);
                double lossSum = 0;
                int epoch = cursor.epoch();
                for (int micro = 0; micro < tc.accumulate(); micro++) {
                    long waited = System.nanoTime();
                    Loader.Batch b = upcoming != null ? upcoming : data.next();
                    upcoming = micro + 1 < tc.accumulate() || iter + 1 < tc.iters() ? data.next() : null;
                    dataNanos += System.nanoTime() - waited;
                    if (upcoming != null) {
                        runner.prefetch(upcoming.images(), upcoming.labels());
                    }
                    cursor = b.next();
                    lossSum += runner.micro(b.images(), b.labels(), lr, iter + 1);
                    counters.forEach(c -> store.get(c).data()[0] += 1);
                }
                runner.update(lr, iter + 1);
                float loss = (float) (lossSum / tc.accumulate());
                if (!Float.isFinite(loss)) {
                    throw new IllegalStateException("loss became " + loss + " at iteration " + (iter + 1)
                            + "; lower train.lr (now " + tc.lr() + ") or check the data");
                }
                losses.add(loss);
                sinceLog++;
                int done = iter + 1;
                double seconds = (System.nanoTime() - t0) / 1e9;
                double imagesPerSecond = sinceLog * batch * tc.accumulate() / Math.max(seconds, 1e-9);
                progress.step(done, loss, lr, imagesPerSecond);
                if (done % tc.logInterval() == 0 || done == tc.iters()) {
                    Map<String, Object> rec = new LinkedHashMap<>();
                    rec.put("type", "train");
                    rec.put("time", java.time.OffsetDateTime.now().withNano(0).toString());
                    rec.put("epoch", epoch);
                    rec.put("iter", done);
                    rec.put("loss", loss);
                    rec.put("lr", lr);
                    rec.put("images_per_s", Math.round(imagesPerSecond * 100) / 100.0);
                    rec.put("iter_s", round(seconds / sinceLog));
                    rec.put("data_s", round(dataNanos / 1e9 / sinceLog));
                    rec.put("planned_peak_mib", plannedPeakMiB);
                    rec.put("heap_used_mib", (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20);
                    ProcessStats.addTo(rec);
                    float[] scaling = runner.lossScaleState();
                    if (scaling != null) { // Note [Dynamic loss scaling]
                        rec.put("loss_scale", LossScale.scale(scaling[0]));
                        rec.put("skipped_steps", (long) scaling[2]);
                    }
                    log.metrics(rec);
                    log.info(String.format("iter %d/%d epoch %d loss %.4f lr %.5f %.1f img/s", done, tc.iters(), epoch, loss, lr, imagesPerSecond)
                            + (scaling == null ? "" : String.format(" loss scale %.0f (%d skipped steps)", LossScale.scale(scaling[0]), (long) scaling[2])));
                    t0 = System.nanoTime();
                    dataNanos = 0;
                    sinceLog = 0;
                }
                boolean evalNow = done == tc.iters() || (tc.evalInterval() > 0 && done % tc.evalInterval() == 0);
                if (evalNow) {
                    lastMIoU = evaluate(evaluator, val, log, cursor.epoch(), done);
                    if (Double.isNaN(best) || lastMIoU > best) {
                        runner.syncVariables();
                        best = lastMIoU;
                        bestIter = done;
                        save(dir, "best", model, momenta, store, runner, done, cursor, best, bestIter, Map.of("mIoU", lastMIoU));
                    }
                    t0 = System.nanoTime();
                }
                String stop = stopRequest;
                boolean ckptNow = done == tc.iters() || stop != null || (tc.checkpointInterval() > 0 && done % tc.checkpointInterval() == 0);
                if (ckptNow) {
                    runner.syncVariables();
                    Path f = save(dir, String.format("iter_%06d", done), model, momenta, store, runner, done, cursor, best, bestIter, Map.of());
                    Checkpoints.markLatest(dir, f);
                    Checkpoints.prune(dir, tc.keepLast(), f);
                    log.info((stop != null ? stop + ": finished iteration " + done + " and " : "") + "saved checkpoint " + f);
                    t0 = System.nanoTime();
                }
                if (stop != null) {
                    stoppedBy = stop;
                    break;
                }
            }
        } finally {
            log.echoTo(null);
        }
        return new Result(tc.iters(), losses, lastMIoU, best, dir, state.iter(), stoppedBy);
    }

    /** The gamma variables of the BN layers a checkpoint names. */
    private static java.util.Set<Variable> gammas(DeepLabV3Plus model, List<String> names) throws IOException {
        java.util.Set<Variable> out = new java.util.HashSet<>();
        for (String name : names) {
            Variable v = model.params().entries().stream().map(org.leanseg.nn.ParamSet.Entry::variable)
                    .filter(p -> p.name().equals(name)).findFirst().orElse(null);
            if (v == null) {
                throw new IOException("the checkpoint runs stock batch norm for '" + name + "', which this model does not have");
            }
            out.add(v);
        }
        return out;
    }


    /** SGD, or AdamW when train.optimizer is adamw. */
    static OptimizerSettings optimizer(TrainConfig tc) {
        OptimizerSettings.Adam adam = tc.optimizer() == TrainConfig.Optimizer.ADAMW
                ? new OptimizerSettings.Adam(tc.beta1(), tc.beta2(), 1e-8) : null;
        return new OptimizerSettings(tc.momentum(), tc.nesterov(), tc.weightDecay(), false, tc.backboneLrMult(), adam);
    }

    private Path save(Path dir, String name, DeepLabV3Plus model, Map<String, Variable> momenta, VariableStore store, StepRunner runner,
                      int done, Loader.Cursor cursor, double best, int bestIter, Map<String, Object> extra) throws IOException {
        List<String> stock = runner.stockBatchNorm().stream().map(Variable::name).sorted().toList();
        Checkpoints.State s = new Checkpoints.State(done, cursor.epoch(), cursor.position(), cfg.train().seed(), best, bestIter, stock);
        return Checkpoints.save(dir, name, model.params(), momenta, store, model.config(), s, normalization, cfg.toYaml(), extra);
    }

    private double evaluate(Evaluator evaluator, Dataset val, TrainLog log, int epoch, int iter) {
        long t = System.nanoTime();
        ConfusionMatrix cm = evaluator.evaluate(val, null);
        double[] iou = cm.iou();
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("type", "val");
        rec.put("time", java.time.OffsetDateTime.now().withNano(0).toString());
        rec.put("epoch", epoch);
        rec.put("iter", iter);
        rec.put("mIoU", round(cm.meanIoU()));
        rec.put("aAcc", round(cm.pixelAccuracy()));
        rec.put("mAcc", round(cm.meanAccuracy()));
        List<Object> per = new ArrayList<>();
        for (double v : iou) {
            per.add(Double.isNaN(v) ? null : round(v));
        }
        rec.put("perClassIoU", per);
        rec.put("eval_s", round((System.nanoTime() - t) / 1e9));
        log.metrics(rec);
        String table = IouTable.format(val.classNames(), iou, cm.accuracy(), cm.meanIoU(), cm.pixelAccuracy(), cm.meanAccuracy());
        log.info("evaluation at iteration " + iter + " on " + val.size() + " images:\n" + table);
        return cm.meanIoU();
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }
}
