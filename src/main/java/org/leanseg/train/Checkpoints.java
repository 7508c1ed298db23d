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
    public record State(int iter, int epoch, int position, long seed, double bestMIoU, int bestIter) {
    }

    public static Path save(Path dir, String name, ParamSet ps, Map<String, Variable> optimizerState, VariableStore store,
                            ModelConfig cfg, State state, Normalization normalization, Map<String, Object> extra) throws IOException {
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
        Path file = dir.resolve(name + ".safetensors");
        Safetensors.write(file, tensors, meta, stored);
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

    /** The newest checkpoint of a run directory, or null. */
    public static Path latest(Path dir) throws IOException {
        Path pointer = dir.resolve("last_checkpoint");
        if (!Files.isRegularFile(pointer)) {
            return null;
        }
        Path f = dir.resolve(Files.readString(pointer).trim());
        if (!Files.isRegularFile(f)) {
            throw new IOException(pointer + " names " + f.getFileName() + ", which does not exist; delete " + pointer
                    + " or give --resume an existing checkpoint file");
        }
        return f;
    }

    /**
     * Restores weights, buffers and momenta into {@code store}; returns the state. The file's
     * model configuration must equal {@code cfg}.
     */
    public static State restore(Path file, ParamSet ps, Map<String, Variable> optimizerState, VariableStore store,
                                ModelConfig cfg) throws IOException {
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

    /** Deletes periodic checkpoints {@code iter_*} beyond the newest {@code keep}. */
    public static void prune(Path dir, int keep) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().matches("iter_\\d+\\.safetensors")).sorted().forEach(files::add);
        }
        for (int i = 0; i < files.size() - keep; i++) {
            Files.deleteIfExists(files.get(i));
            String json = files.get(i).getFileName().toString().replace(".safetensors", ".json");
            Files.deleteIfExists(dir.resolve(json));
        }
    }
}
