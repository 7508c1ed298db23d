package org.leanseg.backend;

/** Device memory owned by a backend. */
public interface Buffer {
    long bytes();
}
