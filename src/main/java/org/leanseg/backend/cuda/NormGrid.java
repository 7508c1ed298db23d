package org.leanseg.backend.cuda;

/**
 * The launch grid of one two-level norm reduction (Note [Two-level norm reductions] in src/main/cuda/norm.cuh):
 * {@code sets} reductions, each over {@code planes} planes of {@code hw} contiguous floats, plane k of set s
 * starting at element {@code s * setStride + k * planeStride}; planes cut into {@code segs} units of at most
 * {@code segLen} elements; {@code chunks} blocks per set (grid x), sets on grid y (at most 65,535, the kernels
 * stride past it). Chunks: one per TARGET elements of a set, more where there are few sets (up to MIN_BLOCKS
 * blocks in all, none smaller than MIN_PER_BLOCK elements), at most MAX_CHUNKS and one unit each.
 * Decided here only, from the shape (not the device): the same shape always gets the same grid, so the order
 * of every addition, and the bits, repeat. The host build of the kernels runs the same grid
 * (HostKernelGridTest).
 *
 * <pre>{@code
 * NormGrid g = NormGrid.batchNorm(8, 32, 256 * 256, true);   // 32 channels of 524,288 floats: 64 chunks each
 * }</pre>
 */
public record NormGrid(int sets, int chunks, int planes, int hw, int segLen, int segs, long setStride, long planeStride,
                       boolean vec) {
    /** Threads per block (LS_NORM_BLOCK in norm.cuh). */
    public static final int BLOCK = 256;
    /** Elements per block of a reduction where the set is large (more blocks only where sets are few). */
    static final int TARGET = 8192;
    /** Blocks a reduction should have in all (a few per SM of an H100's 132), where each gets MIN_PER_BLOCK. */
    static final int MIN_BLOCKS = 512;
    /** Fewest elements per block when a set is split to reach MIN_BLOCKS. */
    static final int MIN_PER_BLOCK = 1024;
    /** Most blocks per set (the second level adds this many partials). */
    static final int MAX_CHUNKS = 128;
    /** Longest unit: 8 floats per thread. */
    static final int SEG = 2048;
    /** Elements per block of the elementwise passes (LS_PLANE_SEG in norm.cuh). */
    public static final int PLANE_SEG = 4096;
    /** Largest grid y. */
    public static final int MAX_GRID_Y = 65_535;

    /**
     * The grid of {@code sets} reductions of {@code planes} planes each; {@code aligned}: every pointer the
     * kernel reads is 16-byte aligned (float4 loads are used where hw is a multiple of 4 too).
     */
    public static NormGrid of(int sets, int planes, int hw, long setStride, long planeStride, boolean aligned) {
        if (sets < 1 || planes < 1 || hw < 1) {
            throw new IllegalArgumentException("norm reduction over " + sets + " sets of " + planes + " planes of " + hw + " elements");
        }
        boolean vec = aligned && hw % 4 == 0 && setStride % 4 == 0 && planeStride % 4 == 0;
        int segLen = Math.min(hw, SEG);
        int segs = (hw + segLen - 1) / segLen;
        long units = (long) planes * segs;
        if (units > Integer.MAX_VALUE || (long) sets * planes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("norm reduction too large for 32-bit unit indices: " + sets + " sets x " + units + " units");
        }
        long perSet = (long) planes * hw;
        long wanted = Math.max((perSet + TARGET - 1) / TARGET, Math.min((MIN_BLOCKS + sets - 1) / sets, perSet / MIN_PER_BLOCK));
        int chunks = (int) Math.max(1, Math.min(Math.min(units, MAX_CHUNKS), wanted));
        return new NormGrid(sets, chunks, planes, hw, segLen, segs, setStride, planeStride, vec);
    }

    /** Batch norm over x [n, c, hw]: one set per channel, its n planes c * hw + k * c * hw. */
    public static NormGrid batchNorm(int n, int c, int hw, boolean aligned) {
        return of(c, n, hw, hw, (long) c * hw, aligned);
    }

    /** Group norm statistics over x [n, c, hw]: one set per (sample, group), its c / groups contiguous planes. */
    public static NormGrid groupNorm(int n, int c, int hw, int groups, boolean aligned) {
        int cpg = c / groups;
        return of(n * groups, cpg, hw, (long) cpg * hw, hw, aligned);
    }

    /** One set per plane of x [n, c, hw] (group norm backward). */
    public static NormGrid perPlane(int n, int c, int hw, boolean aligned) {
        return of(n * c, 1, hw, hw, hw, aligned);
    }

    public int gridX() {
        return chunks;
    }

    public int gridY() {
        return Math.min(sets, MAX_GRID_Y);
    }

    /** Floats of the partial sums (2 per block per set). */
    public long partialFloats() {
        return chunks == 1 ? 0 : 2L * sets * chunks;
    }

    /** The geometry arguments, in the kernels' order (LS_RED_GEOM_PARAMS). */
    public Object[] args() {
        return new Object[] {sets, chunks, planes, hw, segLen, segs, setStride, planeStride, vec ? 1 : 0};
    }

    /** Grid x of an elementwise pass over planes of hw elements. */
    public static int planeGridX(int hw) {
        return (hw + PLANE_SEG - 1) / PLANE_SEG;
    }

    /** Grid y of an elementwise pass over {@code planes} planes. */
    public static int planeGridY(long planes) {
        if (planes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(planes + " planes: more than 32-bit plane indices hold");
        }
        return (int) Math.min(planes, MAX_GRID_Y);
    }
}
