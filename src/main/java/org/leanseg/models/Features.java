package org.leanseg.models;

import org.leanseg.graph.Value;

/** What a backbone hands the head: low-level (stride 4), high-level (stride OS), and the aux-head input. */
public record Features(Value low, int lowChannels, Value high, int highChannels, Value aux, int auxChannels) {
}
