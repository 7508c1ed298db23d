package org.leanseg.backend.cuda;

/**
 * The launch grid of one depthwise convolution kernel (Note [Depthwise kernels by tiles] in src/main/cuda/dw.cuh):
 * the convolution's sizes, then the tile (forward and data gradient) or the bands and chunks (filter gradient),
 * in the field order of the kernels' {@code LsDwGrid}. Decided here only, from the shape (not the device), so
 * the same shape always gets the same grid and the same bits; the host build of the kernels runs the same grid
 * (HostDwGridTest). The factories return null where the tiled kernels do not apply (a stage that does not fit
 * shared memory, more than {@link #WMAX} weights per block, a filter larger than 3x3): the caller keeps its
 * previous path there.
 *
 * <pre>{@code
 * DwGrid g = DwGrid.forward(8, 32, 1, 256, 256, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, true);
 * gpu.launchGrid("ls_dw_forward_k", g.gridX(), g.gridY(), DwGrid.BLOCK, g.args(cap, z, w, bias, y));
 * }</pre>
 */
public record DwGrid(int n, int c, int mult, int h, int w, int hOut, int wOut, int kh, int kw, int strideH, int strideW, int padH,
                     int padW, int dilationH, int dilationW, boolean act, int tileH, int tileW, int stageH, int stageW, int tilesX,
                     int tilesY, int planes, int bandRows, int bands, int chunks) {
    /** Threads per block (LS_DW_BLOCK). */
    public static final int BLOCK = 256;
    /** Floats of the staged rectangle (LS_DW_STAGE). */
    static final int STAGE = 6144;
    /** Most weights a tile block stages (LS_DW_WMAX). */
    static final int WMAX = 64;
    /** Widest tile (a power of two; 4 rows of 64 per pass of the block). */
    static final int MAX_TILE_W = 64;
    /** Elements a tile aims at: 8 per thread. */
    static final int TILE_ELEMENTS = 2048;
    /** Largest kernel side of the filter gradient (LS_DW_KMAX). */
    static final int KMAX = 3;
    /** Elements per block of the filter gradient where the set is large; more blocks only where sets are few. */
    static final int TARGET = 8192;
    static final int MIN_BLOCKS = 512;
    static final int MIN_PER_BLOCK = 1024;
    static final int MAX_CHUNKS = 128;
    /** Longest band of the filter gradient, in elements (whole output rows, at least one). */
    static final int BAND = 2048;

    /** Grid x: tiles of a plane (forward, data gradient) or chunks per channel (filter gradient). */
    public int gridX() {
        return chunks > 0 ? chunks : tilesX * tilesY;
    }

    /** Grid y: planes or channels, at most 65,535 (the kernels stride past it). */
    public int gridY() {
        return Math.min(chunks > 0 ? c * mult : planes, NormGrid.MAX_GRID_Y);
    }

    /** The kernel's arguments: the grid fields (LS_DW_GRID_PARAMS), then {@code tail}. */
    public Object[] args(Object... tail) {
        Object[] head = {n, c, mult, h, w, hOut, wOut, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW, act ? 1 : 0, tileH,
                tileW, stageH, stageW, tilesX, planes, bandRows, bands, chunks};
        Object[] all = new Object[head.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }

    /** The grid fields as the host build takes them, then grid x and y. */
    public long[] hostGeometry(int maxGridY) {
        Object[] a = args();
        long[] g = new long[a.length + 2];
        for (int i = 0; i < a.length; i++) {
            g[i] = ((Number) a[i]).longValue();
        }
        g[a.length] = gridX();
        g[a.length + 1] = maxGridY > 0 ? Math.min(gridY(), maxGridY) : gridY();
        return g;
    }

    /** Floats of the filter gradient's partial sums (LS_DW_TAPS per block per channel); 0 with one chunk. */
    public long partialFloats() {
        return chunks <= 1 ? 0 : 9L * c * mult * chunks;
    }

    private static void checkSizes(long planes, long elements) {
        if (planes > Integer.MAX_VALUE || elements > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("depthwise convolution too large for 32-bit plane indices: " + planes + " planes");
        }
    }

    /** Forward: tiles of the output plane, staging the input rectangle each reads. */
    public static DwGrid forward(int n, int c, int mult, int h, int w, int hOut, int wOut, int kh, int kw, int sH, int sW, int pH,
                                 int pW, int dH, int dW, boolean act) {
        checkSizes((long) n * c * mult, (long) hOut * wOut);
        if (kh * kw > WMAX) {
            return null;
        }
        int[] t = tile(hOut, wOut, (th, tw) -> (long) ((th - 1) * sH + (kh - 1) * dH + 1) * ((tw - 1) * sW + (kw - 1) * dW + 1));
        if (t == null) {
            return null;
        }
        int stageH = (t[0] - 1) * sH + (kh - 1) * dH + 1;
        int stageW = (t[1] - 1) * sW + (kw - 1) * dW + 1;
        return new DwGrid(n, c, mult, h, w, hOut, wOut, kh, kw, sH, sW, pH, pW, dH, dW, act, t[0], t[1], stageH, stageW,
                ceil(wOut, t[1]), ceil(hOut, t[0]), n * c * mult, 0, 0, 0);
    }

    /** Data gradient: tiles of the input plane, staging the dY rectangle of each of the mult output channels. */
    public static DwGrid backwardData(int n, int c, int mult, int h, int w, int hOut, int wOut, int kh, int kw, int sH, int sW, int pH,
                                      int pW, int dH, int dW) {
        checkSizes((long) n * c, (long) h * w);
        if ((long) mult * kh * kw > WMAX) {
            return null;
        }
        int[] t = tile(h, w, (th, tw) -> (long) mult * (((th - 1) + (kh - 1) * dH) / sH + 1) * (((tw - 1) + (kw - 1) * dW) / sW + 1));
        if (t == null) {
            return null;
        }
        int stageH = ((t[0] - 1) + (kh - 1) * dH) / sH + 1;
        int stageW = ((t[1] - 1) + (kw - 1) * dW) / sW + 1;
        return new DwGrid(n, c, mult, h, w, hOut, wOut, kh, kw, sH, sW, pH, pW, dH, dW, false, t[0], t[1], stageH, stageW,
                ceil(w, t[1]), ceil(h, t[0]), n * c, 0, 0, 0);
    }

    /** Filter gradient: per output channel, its N planes of dY in bands of whole rows, over {@code chunks} blocks. */
    public static DwGrid filter(int n, int c, int mult, int h, int w, int hOut, int wOut, int kh, int kw, int sH, int sW, int pH,
                                int pW, int dH, int dW, boolean act) {
        checkSizes((long) n * c * mult, (long) hOut * wOut);
        if (kh > KMAX || kw > KMAX) {
            return null;
        }
        int sets = c * mult;
        int bandRows = Math.max(1, Math.min(hOut, BAND / wOut));
        int bands = ceil(hOut, bandRows);
        long units = (long) n * bands;
        if (units > Integer.MAX_VALUE) {
            return null;
        }
        long perSet = (long) n * hOut * wOut;
        long wanted = Math.max((perSet + TARGET - 1) / TARGET, Math.min((MIN_BLOCKS + sets - 1) / sets, perSet / MIN_PER_BLOCK));
        int chunks = (int) Math.max(1, Math.min(Math.min(units, MAX_CHUNKS), wanted));
        return new DwGrid(n, c, mult, h, w, hOut, wOut, kh, kw, sH, sW, pH, pW, dH, dW, act, 0, 0, 0, 0, 0, 0, sets, bandRows, bands,
                chunks);
    }

    private interface StageFloats {
        long of(int tileH, int tileW);
    }

    /**
     * {tileH, tileW} for a plane of {@code rows x cols} elements: tileW the smallest power of two covering the row,
     * up to {@link #MAX_TILE_W}, tileH up to {@link #TILE_ELEMENTS} elements in all; halved (rows first) until the
     * stage fits {@link #STAGE}; null if even one element's stage does not.
     */
    private static int[] tile(int rows, int cols, StageFloats stage) {
        int tw = Math.min(MAX_TILE_W, Integer.highestOneBit(Math.max(1, cols - 1)) << 1);
        if (cols == 1) {
            tw = 1;
        }
        int th = Math.max(1, Math.min(rows, TILE_ELEMENTS / tw));
        while (stage.of(th, tw) > STAGE) {
            if (th > 1) {
                th = (th + 1) / 2;
            } else if (tw > 1) {
                tw /= 2;
            } else {
                return null;
            }
        }
        return new int[] {th, tw};
    }

    private static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }
}
