package org.leanseg.train;

import org.leanseg.config.ConfigException;
import org.leanseg.config.DataConfig;
import org.leanseg.config.TrainingConfig;
import org.leanseg.data.Dataset;
import org.leanseg.data.SyntheticDataset;
import org.leanseg.data.SyntheticShapes;
import org.leanseg.models.ModelConfig;

/** Builds the model configuration and the datasets a training configuration names. */
public final class Datasets {
    private Datasets() {
    }

    public static ModelConfig modelConfig(TrainingConfig cfg) {
        org.leanseg.config.ModelConfig m = cfg.model();
        int[] rates = m.atrousRates().stream().mapToInt(Integer::intValue).toArray();
        return ModelConfig.of(m.name().yamlName()).withWidth(m.width()).withOutputStride(m.outputStride())
                .withClasses(m.numClasses()).withHead(rates, m.asppChannels(), m.lowLevelChannels(), m.decoderChannels())
                .withAuxHead(m.auxHead());
    }

    public static Dataset train(TrainingConfig cfg) {
        return build(cfg, true);
    }

    public static Dataset val(TrainingConfig cfg) {
        return build(cfg, false);
    }

    private static Dataset build(TrainingConfig cfg, boolean train) {
        DataConfig d = cfg.data();
        Dataset ds = switch (d.type()) {
            case SYNTHETIC -> {
                DataConfig.Synthetic s = d.synthetic();
                SyntheticShapes shapes = new SyntheticShapes(s.seed(), s.imageSize().height(), s.imageSize().width(), s.maxShapes(), s.textured());
                yield new SyntheticDataset(shapes, train ? SyntheticShapes.Split.TRAIN : SyntheticShapes.Split.VAL,
                        train ? s.trainSize() : s.valSize());
            }
            case VOC, FOLDER -> org.leanseg.data.Datasets.open(d, train ? d.trainSplit() : d.valSplit(), train, d.skipBad(),
                    warning -> System.err.println("warning: " + warning));
        };
        if (ds.numClasses() != d.numClasses()) {
            throw new ConfigException("data.num_classes: " + d.numClasses() + " but the " + d.type().yamlName() + " dataset has "
                    + ds.numClasses() + " classes; set --set data.num_classes=" + ds.numClasses());
        }
        return ds;
    }
}
