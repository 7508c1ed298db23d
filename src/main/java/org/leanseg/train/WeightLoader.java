package org.leanseg.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Variable;
import org.leanseg.io.SafetensorsFile;
import org.leanseg.nn.ParamSet;
import org.leanseg.tensor.Tensor;

/**
 * Loads weights from a safetensors file by state_dict key, with a report of missing, unexpected
 * and shape-mismatched keys (PyTorch's load_state_dict report). {@code prefixMap} ("from=to")
 * renames keys first, e.g. {@code "=backbone."} loads a backbone-only file such as converted
 * torchvision {@code features.*} weights. Keys under {@code optimizer/} are not weights.
 */
public final class WeightLoader {
    private WeightLoader() {
    }

    /** What a load found. */
    public record Report(List<String> loaded, List<String> missing, List<String> unexpected, List<String> mismatched) {
        public boolean clean() {
            return missing.isEmpty() && unexpected.isEmpty() && mismatched.isEmpty();
        }

        @Override
        public String toString() {
            return "loaded " + loaded.size() + " tensors; missing " + missing.size() + (missing.isEmpty() ? "" : " " + head(missing))
                    + "; unexpected " + unexpected.size() + (unexpected.isEmpty() ? "" : " " + head(unexpected))
                    + "; shape-mismatched " + mismatched.size() + (mismatched.isEmpty() ? "" : " " + head(mismatched));
        }

        private static String head(List<String> l) {
            return l.size() <= 5 ? l.toString() : l.subList(0, 5) + " and " + (l.size() - 5) + " more";
        }
    }

    /** Loads what matches; with {@code strict}, any missing, unexpected or mismatched key is an error and nothing is changed. */
    public static Report load(Path file, ParamSet ps, VariableStore store, boolean strict, String prefixMap) throws IOException {
        String from = "";
        String to = "";
        if (prefixMap != null && !prefixMap.isEmpty()) {
            int eq = prefixMap.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("prefix map '" + prefixMap + "' must look like from=to, e.g. =backbone.");
            }
            from = prefixMap.substring(0, eq);
            to = prefixMap.substring(eq + 1);
        }
        Map<String, Variable> vars = ps.byName();
        List<String> loaded = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        List<Runnable> writes = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String key : f.keys()) {
                if (key.startsWith("optimizer/")) {
                    continue;
                }
                String name = key.startsWith(from) ? to + key.substring(from.length()) : key;
                Variable v = vars.get(name);
                if (v == null) {
                    unexpected.add(key);
                    continue;
                }
                seen.add(name);
                if (!f.spec(key).shape().equals(v.spec().shape())) {
                    mismatched.add(name + " (file " + f.spec(key).shape() + ", model " + v.spec().shape() + ")");
                    continue;
                }
                Tensor t = f.tensor(key);
                writes.add(() -> store.set(v, t));
                loaded.add(name);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String name : vars.keySet()) {
            if (!seen.contains(name)) {
                missing.add(name);
            }
        }
        Report r = new Report(loaded, missing, unexpected, mismatched);
        if (strict && !r.clean()) {
            throw new IOException(file + ": strict load failed: " + r + ". Fix: load a file made for this model "
                    + "(same model name, width, classes), give a prefix map, or drop --strict");
        }
        writes.forEach(Runnable::run);
        return r;
    }
}
