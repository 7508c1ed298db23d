package org.leanseg.graph;

/** Where in the training step an op runs; the memory timeline marks these. */
public enum Phase {
    FORWARD, BACKWARD, OPTIMIZER
}
