package org.leanseg.config;

/**
 * A configuration error: unknown key, bad value or inconsistent settings. The message names the
 * full dotted key, the bad value, what is allowed and where the value came from, e.g.
 * {@code "train.schedule: 'linear' is not one of poly, cosine (in my.yaml)"}.
 */
public class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
