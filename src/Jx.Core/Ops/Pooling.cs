namespace Jx;

/// <summary>Pooling with flax.linen's semantics (max_pool, avg_pool, min_pool): inputs are (batch..., spatial...,
/// features) — NHWC for images — or (spatial..., features) without a batch; the window and strides cover the spatial
/// dimensions only; padding is "VALID" (default), "SAME" or explicit (low, high) pairs per spatial dimension.</summary>
/// <example><code>
/// var x = Np.Arange(16, DType.Float32).Reshape(1, 4, 4, 1);
/// var m = Pooling.MaxPool(x, [2, 2], [2, 2]);        // (1, 2, 2, 1): [[5, 7], [13, 15]]
/// var a = Pooling.AvgPool(x, [2, 2], [2, 2]);        // [[2.5, 4.5], [10.5, 12.5]]
/// </code></example>
public static class Pooling
{
    /// <summary>Maximum over each window (flax.linen.max_pool); padding counts as −inf.</summary>
    public static Tensor MaxPool(Tensor x, int[] windowShape, int[]? strides = null, string padding = "VALID") =>
        Pool("MaxPool", x, "max", windowShape, strides, null, padding);

    /// <summary>Maximum over each window with explicit (low, high) padding per spatial dimension.</summary>
    public static Tensor MaxPool(Tensor x, int[] windowShape, int[]? strides, (int Low, int High)[] padding) =>
        Pool("MaxPool", x, "max", windowShape, strides, padding, null);

    /// <summary>Minimum over each window (flax.linen.min_pool); padding counts as +inf.</summary>
    public static Tensor MinPool(Tensor x, int[] windowShape, int[]? strides = null, string padding = "VALID") =>
        Pool("MinPool", x, "min", windowShape, strides, null, padding);

    /// <summary>Minimum over each window with explicit (low, high) padding per spatial dimension.</summary>
    public static Tensor MinPool(Tensor x, int[] windowShape, int[]? strides, (int Low, int High)[] padding) =>
        Pool("MinPool", x, "min", windowShape, strides, padding, null);

    /// <summary>Mean over each window (flax.linen.avg_pool). With <paramref name="countIncludePad"/> (the default) the sum
    /// is divided by the window size; otherwise by the number of non-padding elements in the window. Integer inputs
    /// give float32.</summary>
    public static Tensor AvgPool(Tensor x, int[] windowShape, int[]? strides = null, string padding = "VALID", bool countIncludePad = true) =>
        Avg(x, windowShape, strides, null, padding, countIncludePad);

    /// <summary>Mean over each window with explicit (low, high) padding per spatial dimension.</summary>
    public static Tensor AvgPool(Tensor x, int[] windowShape, int[]? strides, (int Low, int High)[] padding, bool countIncludePad = true) =>
        Avg(x, windowShape, strides, padding, null, countIncludePad);

    private static Tensor Avg(Tensor x, int[] window, int[]? strides, (int, int)[]? pads, string? padStr, bool countIncludePad)
    {
        var y = Pool("AvgPool", x, "sum", window, strides, pads, padStr);
        if (countIncludePad) return Np.Divide(y, (double)window.Aggregate(1, (a, b) => a * b));
        var divShape = x.Shape.Take(x.Rank - 1).Append(1).ToArray();
        if (divShape.Length - 2 == window.Length) divShape[0] = 1;
        var ones = Np.Ones(divShape, y.DType.IsFloating() ? y.DType : DType.Float32);
        return Np.Divide(y, Pool("AvgPool", ones, "sum", window, strides, pads, padStr));
    }

    private static Tensor Pool(string op, Tensor x, string computation, int[] window, int[]? strides, (int, int)[]? pads, string? padStr)
    {
        strides ??= Enumerable.Repeat(1, window.Length).ToArray();
        if (window.Length != strides.Length)
            throw new ShapeError($"{op}: window shape {new IntList(window)} and strides {new IntList(strides)} must have the same length");
        int numBatch = x.Rank - (window.Length + 1);
        if (numBatch < 0)
            throw new ShapeError($"{op}: input of shape {x.Shape} has rank {x.Rank}, but a {window.Length}-d window needs (batch..., {window.Length} spatial dims, features), i.e. rank >= {window.Length + 1}; pooling expects NHWC-style layouts");
        if (pads is not null && pads.Length != window.Length)
            throw new ShapeError($"{op}: padding {Convolution.PairsParam(pads)} must have one (low, high) pair per window dimension ({window.Length})");
        bool single = numBatch == 0;
        if (single) { x = Lax.ExpandDims(x, [0]); numBatch = 1; }
        int[] dims = [.. Enumerable.Repeat(1, numBatch), .. window, 1];
        int[] st = [.. Enumerable.Repeat(1, numBatch), .. strides, 1];
        var y = pads is not null
            ? Lax.ReduceWindow(x, computation, dims, st, [.. Enumerable.Repeat((0, 0), numBatch), .. pads, (0, 0)])
            : Lax.ReduceWindow(x, computation, dims, st, padStr!);
        return single ? Lax.Squeeze(y, [0]) : y;
    }
}
