package org.leanseg.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Round on store (Note [Mixed precision]): nearest-even to bfloat16 and binary16, binary16 overflow to infinity. */
class HalfTest {
    @Test
    void bfloat16RoundsToNearestEven() {
        DType t = DType.BF16;
        assertEquals(1f, t.round(1f + 0x1p-8f), "a tie between 1 and 1+2^-7 goes to the even 1");
        assertEquals(1f + 0x1p-6f, t.round(1f + 3 * 0x1p-8f), "a tie between 1+2^-7 and 1+2^-6 goes to the even 1+2^-6");
        assertEquals(1f + 0x1p-7f, t.round(1f + 0x1p-8f + 0x1p-20f), "past the tie rounds up");
        assertEquals(-3f, t.round(-3f));
        assertTrue(Float.isNaN(t.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, t.round(Float.MAX_VALUE), "the largest float rounds past bfloat16's largest");
        assertEquals(0x1p-133f, t.round(0x1p-133f), "float subnormals keep their top bits");
    }

    @Test
    void binary16RoundsToNearestEvenAndOverflowsToInfinity() {
        DType t = DType.F16;
        assertEquals(65504f, t.round(65519f), "below the midpoint to infinity: the largest half");
        assertEquals(Float.POSITIVE_INFINITY, t.round(65520f), "the midpoint rounds to even: infinity");
        assertEquals(Float.NEGATIVE_INFINITY, t.round(-1e6f));
        assertEquals(1f, t.round(1f + 0x1p-11f), "tie to even, down");
        assertEquals(1f + 0x1p-9f, t.round(1f + 3 * 0x1p-11f), "tie to even, up");
        assertEquals(0x1p-24f, t.round(0x1p-24f), "the smallest subnormal half");
        assertEquals(0f, t.round(0x1p-25f), "half of it ties to even zero");
        assertTrue(Float.isNaN(t.round(Float.NaN)));
    }

    @Test
    void roundingIsIdempotentAndF32Unchanged() {
        java.util.Random rnd = new java.util.Random(3);
        for (int i = 0; i < 100_000; i++) {
            float v = Float.intBitsToFloat(rnd.nextInt());
            for (DType t : new DType[] {DType.BF16, DType.F16}) {
                float r = t.round(v);
                assertEquals(Float.floatToIntBits(r), Float.floatToIntBits(t.round(r)), t + " of " + v);
            }
            assertEquals(Float.floatToIntBits(v), Float.floatToIntBits(DType.F32.round(v)));
        }
    }
}
