package org.leanseg.cli;

import org.leanseg.config.ConfigException;
import org.leanseg.config.EvalConfig;
import org.leanseg.config.TrainingConfig;

/** The {@code --engine} option of predict and benchmark: LeanSeg's own executor, or ONNX Runtime on an exported model. */
final class Engines {
    private Engines() {
    }

    /**
     * Whether {@code engine} picks ONNX Runtime; throws {@link ConfigException} for an unknown engine
     * or for settings ONNX Runtime does not run here (slide windows, flip, several scales).
     */
    static boolean onnxRuntime(String engine, TrainingConfig cfg, boolean flip, String command) {
        if (engine.equals("leanseg")) {
            return false;
        }
        if (!engine.equals("onnxruntime")) {
            throw new ConfigException("--engine " + engine + " is not an engine; use leanseg or onnxruntime");
        }
        if (cfg.eval().mode() != EvalConfig.Mode.WHOLE || flip || !cfg.eval().scales().equals(java.util.List.of(1.0))) {
            throw new ConfigException("--engine onnxruntime runs whole images at scale 1.0 only; drop --mode slide, --flip and --scales "
                    + "(or eval.mode / eval.scales) for " + command);
        }
        return true;
    }
}
