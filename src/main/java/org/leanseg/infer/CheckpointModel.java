package org.leanseg.infer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.leanseg.exec.VariableStore;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.models.ModelConfigJson;
import org.leanseg.train.WeightLoader;

/**
 * A model ready for inference from a weights file: the architecture comes from the file's
 * {@code model_config} metadata (written by every LeanSeg checkpoint) or, for plain safetensors
 * files, from the configuration when its shapes fit, else from the file's tensor shapes
 * ({@link ModelInference}, said in {@link #note}); the weights are loaded strictly (any missing, unexpected or
 * mismatched tensor is an error). An {@code aux.*} head in the file is built too (it is unused at
 * inference) so that strict loading accepts checkpoints trained with deep supervision.
 *
 * <pre>{@code
 * CheckpointModel m = CheckpointModel.load(Path.of("runs/a/best.safetensors"), Datasets.modelConfig(cfg));
 * }</pre>
 *
 * @param model the network
 * @param store its weights and BN buffers
 * @param fromMetadata whether the architecture came from the file's metadata
 * @param note what was inferred from the tensor shapes, in one line, or null
 */
public record CheckpointModel(DeepLabV3Plus model, VariableStore store, boolean fromMetadata, String note) {

    public static CheckpointModel load(Path file, ModelConfig configured) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": checkpoint not found; give the .safetensors file a training run wrote "
                    + "(e.g. runs/<name>/best.safetensors)");
        }
        ModelConfig cfg;
        boolean fromMetadata;
        boolean aux;
        String note = null;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> meta = f.metadata();
            fromMetadata = meta.containsKey("model_config");
            aux = f.keys().stream().anyMatch(k -> k.startsWith("aux."));
            try {
                cfg = fromMetadata ? ModelConfigJson.parse(meta.get("model_config"), meta.get("batchnorm")) : configured;
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
            if (!fromMetadata) {
                java.util.Map<String, org.leanseg.tensor.Shape> shapes = new java.util.HashMap<>();
                for (String k : f.keys()) {
                    shapes.put(k, f.spec(k).shape());
                }
                if (!ModelInference.matches(cfg.withAuxHead(aux), shapes)) {
                    ModelInference.Inferred inferred = ModelInference.of(f);
                    cfg = inferred.config();
                    note = inferred.line();
                }
            }
        }
        cfg = cfg.withAuxHead(aux);
        DeepLabV3Plus model = new DeepLabV3Plus(cfg);
        VariableStore store = new VariableStore();
        model.params().initialize(store, 0);
        WeightLoader.load(file, model.params(), store, true, null);
        return new CheckpointModel(model, store, fromMetadata, note);
    }
}
