package org.leanseg.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.leanseg.data.Normalization;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Variable;
import org.leanseg.io.AtomicFiles;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.io.Safetensors;
import org.leanseg.models.ModelConfig;
import org.leanseg.models.ModelConfigJson;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;

/**
 * Training checkpoints: {@code <name>.safetensors} (state_dict keys, BN buffers, and the SGD
 * momenta under {@code optimizer/momentum/<key>}; metadata: model config and {@link State}) plus
 * a small JSON sidecar {@code <name>.json} for people and scripts, and {@code last_checkpoint}
 * naming the newest. Every file is written atomically (temp file, fsync, rename), the sidecar and
 * pointer only after the weights, so a crash at any point leaves a complete older checkpoint.
 */
public final class Checkpoints {
    static final String FORMAT = "leanseg-checkpoint-1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Checkpoints() {
    }

    /**
     * Where training stands: next iteration to run, data position (epoch, batch index) — with the
     * seed this is the whole RNG state, since every random draw derives from (seed, epoch, index) —
     * and the best evaluation so far.
     */
    public record State(int iter, int epoch, int position, long seed, double bestMIoU, int bestIter, List<String> stockBatchNorm) {
        /**
         * @param stockBatchNorm gammas of the BN layers the step runs with stock BN instead of in
         *     place (the fallback of Note [In-place BN backward]); part of the step, so a resumed
         *     run builds the same one. Empty when none; checkpoints older than the field read as empty.
         */
        public State {
            stockBatchNorm = stockBatchNorm == null ? List.of() : List.copyOf(stockBatchNorm);
        }
    }

    /** Metadata key of the run's resolved config (YAML), so that --resume, eval and predict can use it. */
    public static final String CONFIG_KEY = "config";

    /**
     * Writes {@code <name>.safetensors} (with the data's checksum, {@link #verify}) and its sidecar;
     * {@code configYaml} (the run's resolved config, or null) goes into the metadata.
     */
    public static Path save(Path dir, String name, ParamSet ps, Map<String, Variable> optimizerState, VariableStore store,
                            ModelConfig cfg, State state, Normalization normalization, String configYaml,
                            Map<String, Object> extra) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, DType> stored = new LinkedHashMap<>();
        for (ParamSet.Entry e : ps.entries()) {
            String key = e.variable().name();
            tensors.put(key, store.get(e.variable()));
            if (e.variable().spec().dtype() == DType.I64) {
                stored.put(key, DType.I64);
            }
        }
        optimizerState.forEach((key, v) -> tensors.put(key, store.get(v)));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("model_config", ModelConfigJson.model(cfg));
        meta.put("batchnorm", ModelConfigJson.batchnorm(cfg));
        meta.put("state", JSON.writeValueAsString(state));
        meta.put("normalization", normalization.toJson());
        if (configYaml != null) {
            meta.put(CONFIG_KEY, configYaml);
        }
        Path file = dir.resolve(name + ".safetensors");
        Safetensors.writeVerifiable(file, tensors, meta, stored);
        Map<String, Object> sidecar = new LinkedHashMap<>();
        sidecar.put("format", FORMAT);
        sidecar.put("weights", file.getFileName().toString());
        sidecar.put("state", state);
        sidecar.put("model", cfg.toString());
        sidecar.putAll(extra);
        AtomicFiles.write(dir.resolve(name + ".json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(sidecar));
        return file;
    }

    /** Marks {@code file} as the newest checkpoint of {@code dir}. */
    public static void markLatest(Path dir, Path file) throws IOException {
        AtomicFiles.write(dir.resolve("last_checkpoint"), (file.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The newest checkpoint of a run directory that verifies ({@link #verify}), or null when there
     * is none: the one {@code last_checkpoint} names, else the {@code iter_*} files from the highest
     * iteration down. Each one skipped (missing, truncated, corrupt) is said through {@code warn}.
     */
    public static Path latest(Path dir, java.util.function.Consumer<String> warn) throws IOException {
        List<Path> candidates = new ArrayList<>();
        Path pointer = dir.resolve("last_checkpoint");
        if (Files.isRegularFile(pointer)) {
            Path named = dir.resolve(Files.readString(pointer).trim());
            if (Files.isRegularFile(named)) {
                candidates.add(named);
            } else {
                warn.accept(pointer + " names " + named.getFileName() + ", which does not exist; looking for an older checkpoint");
            }
        }
        List<Path> newestFirst = periodic(dir);
        java.util.Collections.reverse(newestFirst);
        newestFirst.stream().filter(p -> !candidates.contains(p)).forEach(candidates::add);
        for (Path c : candidates) {
            try {
                verify(c);
                return c;
            } catch (IOException bad) {
                warn.accept("skipping checkpoint " + bad.getMessage() + "; using an older one");
            }
        }
        return null;
    }

    /**
     * Checks that {@code file} is a whole LeanSeg training checkpoint: its size and header
     * (on opening), its format metadata, and the checksum of its data written at save time.
     *
     * @throws IOException one line naming the file and what is wrong with it
     */
    public static void verify(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IOException(file + " is a directory; give a .safetensors checkpoint file, or --resume with no value for the newest in the run directory");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": no such checkpoint file");
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!FORMAT.equals(f.metadata().get("format")) || !f.metadata().containsKey("state")) {
                throw new IOException(file + ": not a LeanSeg training checkpoint (no '" + FORMAT + "' metadata); "
                        + "to start from its weights use --load-from instead of --resume");
            }
            f.verify();
        }
    }

    /** The training state saved in a checkpoint (the file must {@link #verify}). */
    public static State stateOf(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return JSON.readValue(f.metadata().get("state"), State.class);
        }
    }

    /** The run's config saved in a checkpoint's metadata, or null (older checkpoints, plain weights). */
    public static String savedConfig(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.metadata().get(CONFIG_KEY);
        }
    }

    /**
     * Restores weights, buffers and momenta into {@code store}; returns the state. The file's
     * model configuration must equal {@code cfg}.
     */
    public static State restore(Path file, ParamSet ps, Map<String, Variable> optimizerState, VariableStore store,
                                ModelConfig cfg) throws IOException {
        return restore(file, ps, optimizerState, store, cfg, note -> { });
    }

    /**
     * As {@link #restore(Path, ParamSet, Map, VariableStore, ModelConfig)}; a checkpoint of an fp32
     * or bf16 run resumed in fp16 has no loss-scaling state, which then starts as in a new run
     * (scale 2^16), said through {@code notes}. Optimizer state the configured optimizer needs but
     * the checkpoint lacks (another {@code train.optimizer}) is an error that says so.
     */
    public static State restore(Path file, ParamSet ps, Map<String, Variable> optimizerState, VariableStore store,
                                ModelConfig cfg, java.util.function.Consumer<String> notes) throws IOException {
        verify(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> meta = f.metadata();
            if (!FORMAT.equals(meta.get("format")) || !meta.containsKey("state")) {
                throw new IOException(file + ": not a LeanSeg training checkpoint (no '" + FORMAT + "' metadata); "
                        + "to start from its weights use --load-from instead of --resume");
            }
            ModelConfig saved = ModelConfigJson.parse(meta.get("model_config"), meta.get("batchnorm")).withAuxHead(cfg.auxHead());
            if (!saved.equals(cfg)) {
                throw new IOException(file + ": checkpoint model " + saved + " differs from the configured " + cfg
                        + "; resume with the run's own config.yaml or use --load-from");
            }
            List<String> missing = new ArrayList<>();
            Map<Variable, Tensor> values = new LinkedHashMap<>();
            for (ParamSet.Entry e : ps.entries()) {
                read(f, e.variable().name(), e.variable(), values, missing);
            }
            optimizerState.forEach((key, v) -> read(f, key, v, values, missing));
            if (missing.remove(TrainGraph.LOSS_SCALE_KEY)) {
                notes.accept(file + " has no fp16 loss-scaling state (its run did not train in fp16); the loss scale starts at 2^"
                        + org.leanseg.ops.optim.LossScale.INITIAL_LOG2 + " as in a new fp16 run");
            }
            if (!missing.isEmpty() && missing.stream().allMatch(k -> k.startsWith("optimizer/"))) {
                throw new IOException(file + ": checkpoint lacks the optimizer state train.optimizer needs (" + missing.size()
                        + " tensors, e.g. " + missing.get(0) + "); it was saved by a run with another optimizer: resume with that "
                        + "train.optimizer, or start from its weights with --load-from");
            }
            if (!missing.isEmpty()) {
                throw new IOException(file + ": checkpoint lacks " + missing.size() + " tensors, e.g. " + missing.get(0)
                        + "; it is incomplete or from another model");
            }
            values.forEach(store::set);
            return JSON.readValue(meta.get("state"), State.class);
        }
    }

    private static void read(SafetensorsFile f, String key, Variable v, Map<Variable, Tensor> out, List<String> missing) {
        try {
            if (!f.contains(key)) {
                missing.add(key);
                return;
            }
            Tensor t = f.tensor(key);
            if (!t.shape().equals(v.spec().shape())) {
                throw new IOException(f.path() + ": " + key + " has shape " + t.shape() + ", the model needs " + v.spec().shape());
            }
            out.put(v, t);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The periodic checkpoints {@code iter_*} of {@code dir}, by iteration. */
    static List<Path> periodic(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return files;
        }
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().matches("iter_\\d+\\.safetensors")).sorted().forEach(files::add);
        }
        return files;
    }

    /**
     * Deletes periodic checkpoints {@code iter_*} older than {@code current} beyond the newest
     * {@code keep} (counting {@code current}). {@code current}, the one just written, is never
     * deleted, nor any of a later iteration (left by an earlier run that this one resumed before
     * its end, and replaced as this run reaches them).
     */
    public static void prune(Path dir, int keep, Path current) throws IOException {
        List<Path> files = new ArrayList<>();
        String currentName = current.getFileName().toString();
        for (Path p : periodic(dir)) {
            if (p.getFileName().toString().compareTo(currentName) < 0) {
                files.add(p);
            }
        }
        for (int i = 0; i < files.size() - (keep - 1); i++) {
            Files.deleteIfExists(files.get(i));
            String json = files.get(i).getFileName().toString().replace(".safetensors", ".json");
            Files.deleteIfExists(dir.resolve(json));
        }
    }
}
