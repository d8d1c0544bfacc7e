namespace Jx;

/// <summary>Windowed reductions, as lax.reduce_window_sum_p / reduce_window_max_p / reduce_window_min_p: each output
/// element reduces one window of the operand. Params: window_dimensions, window_strides, padding ((low, high) per
/// dimension), base_dilation (holes between operand elements) and window_dilation (gaps between window taps). Padding
/// and holes hold the reduction's identity: 0 for sum, −inf (the dtype's minimum for integers) for max, +inf for min.</summary>
[PrimitiveFamily]
public static class Windowed
{
    private static Primitive Make(string name, ReduceKind kind) => new(name, "windowed",
        (ins, p) =>
        {
            Elementwise.Check(name, ins, 1);
            var x = ins[0];
            if (kind == ReduceKind.Sum && !Elementwise.Accepts(Elementwise.Kinds.Numeric, x.DType))
                throw new DTypeError($"operand to {name} must have a number dtype, got {x.DType.Name()} (shape {x.Shape}); convert it first with x.AsType(...)");
            return [x with { Shape = new Shape(Geometry(name, x.Shape, p).OutShape) }];
        },
        (xs, p, o) => [ReduceWindowKernel.Run(xs[0], Geometry(name, xs[0].Shape, p), kind, o[0])]);

    /// <summary>reduce_window_sum[base_dilation, padding, window_dilation, window_dimensions, window_strides].</summary>
    public static readonly Primitive ReduceWindowSum = Make("reduce_window_sum", ReduceKind.Sum);
    /// <summary>reduce_window_max[...]: padding and holes are −inf (the minimum for integers, false for bool).</summary>
    public static readonly Primitive ReduceWindowMax = Make("reduce_window_max", ReduceKind.Max);
    /// <summary>reduce_window_min[...]: padding and holes are +inf (the maximum for integers, true for bool).</summary>
    public static readonly Primitive ReduceWindowMin = Make("reduce_window_min", ReduceKind.Min);

    private static string Fmt(int[] a) => new IntList(a).ToString();

    internal static WindowGeometry Geometry(string name, Shape shape, Params p)
    {
        var dims = p.Ints("window_dimensions");
        var strides = p.Ints("window_strides");
        var pads = Convolution.Pairs(name, "padding", p["padding"]);
        var bd = p.Ints("base_dilation");
        var wd = p.Ints("window_dilation");
        if (dims.Any(d => d <= 0)) throw new InvalidArgumentError($"{name} window_dimensions must have every element be positive, got {Fmt(dims)}");
        if (strides.Any(d => d <= 0)) throw new InvalidArgumentError($"{name} window_strides must have every element be positive, got {Fmt(strides)}");
        if (bd.Any(d => d <= 0)) throw new InvalidArgumentError($"{name} base_dilation must have every element be positive, got {Fmt(bd)}");
        if (wd.Any(d => d <= 0)) throw new InvalidArgumentError($"{name} window_dilation must have every element be positive, got {Fmt(wd)}");
        if (shape.Rank != dims.Length)
            throw new ShapeError($"{name} got the wrong number of window_dimensions for operand: got operand shape {shape} with window_dimensions {Fmt(dims)}; give one window size per operand dimension (1 for dimensions that are not pooled)");
        if (strides.Length != dims.Length)
            throw new ShapeError($"{name} got inconsistent window_strides and window_dimensions: got window_strides {Fmt(strides)} and window_dimensions {Fmt(dims)}");
        if (pads.Length != dims.Length)
            throw new ShapeError($"{name} got inconsistent padding and window_dimensions: got padding {Convolution.PairsParam(pads)} and window_dimensions {Fmt(dims)}");
        if (bd.Length != dims.Length)
            throw new ShapeError($"{name} got inconsistent base_dilation and window_dimensions: got base_dilation {Fmt(bd)} and window_dimensions {Fmt(dims)}");
        if (wd.Length != dims.Length)
            throw new ShapeError($"{name} got inconsistent window_dilation and window_dimensions: got window_dilation {Fmt(wd)} and window_dimensions {Fmt(dims)}");
        var outShape = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            int padded = Convolution.Dilate(shape[i], bd[i]) + pads[i].Lo + pads[i].Hi;
            if (padded < 0)
                throw new ShapeError($"{name}: negative padding {Convolution.PairsParam(pads)} is larger than dimension {i} of operand shape {shape}");
            outShape[i] = Convolution.StrideDim(padded, Convolution.Dilate(dims[i], wd[i]), strides[i]);
        }
        return new WindowGeometry(dims, strides, pads, bd, wd, outShape);
    }

    /// <summary>The params of a reduce_window_* equation, in the order JAX prints them.</summary>
    public static Params MakeParams(int[] windowDimensions, int[] windowStrides, (int Lo, int Hi)[] padding, int[] baseDilation, int[] windowDilation) =>
        Params.Of(
            ("base_dilation", baseDilation),
            ("padding", Convolution.PairsParam(padding)),
            ("window_dilation", windowDilation),
            ("window_dimensions", windowDimensions),
            ("window_strides", windowStrides));
}

/// <summary>The checked parameters of a windowed reduction and its output shape.</summary>
internal sealed record WindowGeometry(int[] Dims, int[] Strides, (int Lo, int Hi)[] Padding, int[] BaseDilation, int[] WindowDilation, int[] OutShape);
