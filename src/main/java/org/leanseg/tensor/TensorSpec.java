package org.leanseg.tensor;

/** Shape and element type of a value: all the planner and shape inference need to know. */
public record TensorSpec(Shape shape, DType dtype) {
    public static TensorSpec f32(int... dims) {
        return new TensorSpec(Shape.of(dims), DType.F32);
    }

    public static TensorSpec i32(int... dims) {
        return new TensorSpec(Shape.of(dims), DType.I32);
    }

    public long bytes() {
        return shape.bytes(dtype);
    }

    @Override
    public String toString() {
        return dtype.name().toLowerCase() + shape;
    }
}
