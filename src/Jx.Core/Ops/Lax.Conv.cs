namespace Jx;

public static partial class Lax
{
    // ----- convolution -----

    /// <summary>General dilated convolution (lax.conv_general_dilated). <paramref name="padding"/> holds one (low, high)
    /// pair per spatial dimension; negative values crop. <paramref name="lhsDilation"/> inserts holes between input
    /// elements (a transposed convolution), <paramref name="rhsDilation"/> between kernel taps (atrous convolution).
    /// <paramref name="dimensionNumbers"/> defaults to NCH.../OIH.../NCH...; a string triple such as
    /// <c>("NHWC", "HWIO", "NHWC")</c> converts implicitly. <paramref name="featureGroupCount"/> splits input features
    /// into groups (depthwise convolution when it equals the number of input features); <paramref name="batchGroupCount"/>
    /// splits the lhs batch into groups that each feed one block of output features.</summary>
    /// <example><code>
    /// var x = Np.Array(new float[] { 1, 2, 3, 4 }).Reshape(1, 1, 4);   // N=1, C=1, W=4
    /// var k = Np.Array(new float[] { 1, 0, -1 }).Reshape(1, 1, 3);     // O=1, I=1, W=3
    /// var y = Lax.ConvGeneralDilated(x, k, [1], [(0, 0)]);             // [[[-2, -2]]] (a cross-correlation)
    /// </code></example>
    public static Tensor ConvGeneralDilated(Tensor lhs, Tensor rhs, int[] windowStrides, (int Low, int High)[] padding,
        int[]? lhsDilation = null, int[]? rhsDilation = null, ConvDimensionNumbers? dimensionNumbers = null,
        int featureGroupCount = 1, int batchGroupCount = 1, DType? preferredElementType = null)
    {
        int s = ConvSpatialRank(lhs, rhs);
        var dn = dimensionNumbers ?? ConvDimensionNumbers.Default(lhs.Rank);
        var p = Convolution.MakeParams(windowStrides, padding, lhsDilation ?? Ones(s), rhsDilation ?? Ones(s), dn,
            featureGroupCount, batchGroupCount, preferredElementType);
        return Convolution.ConvGeneralDilated.Bind1([lhs, rhs], p);
    }

    /// <summary>lax.conv_general_dilated with padding "SAME", "SAME_LOWER" or "VALID", resolved like lax.padtype_to_pads
    /// from the lhs spatial shape and the (rhs-dilated) kernel spatial shape. String padding cannot be combined with
    /// lhs dilation (use explicit pairs or <see cref="ConvTranspose(Tensor, Tensor, int[], string, int[], ConvDimensionNumbers, bool)"/>).</summary>
    /// <example><code>
    /// var x = Np.Ones([1, 5, 5, 3]); var k = Np.Ones([3, 3, 3, 8]);
    /// var y = Lax.ConvGeneralDilated(x, k, [2, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC")); // (1, 3, 3, 8)
    /// </code></example>
    public static Tensor ConvGeneralDilated(Tensor lhs, Tensor rhs, int[] windowStrides, string padding,
        int[]? lhsDilation = null, int[]? rhsDilation = null, ConvDimensionNumbers? dimensionNumbers = null,
        int featureGroupCount = 1, int batchGroupCount = 1, DType? preferredElementType = null)
    {
        int s = ConvSpatialRank(lhs, rhs);
        var dn = dimensionNumbers ?? ConvDimensionNumbers.Default(lhs.Rank);
        if (lhsDilation is not null && lhsDilation.Any(d => d != 1))
            throw new InvalidArgumentError($"String padding is not implemented for transposed convolution using this op (lhs_dilation {new IntList(lhsDilation)}). Please either exactly specify the required padding or use Lax.ConvTranspose.");
        var rd = rhsDilation ?? Ones(s);
        Convolution.CheckSpecs(dn, lhs.Shape, rhs.Shape);
        if (rd.Length != s) throw new ShapeError($"conv_general_dilated: rhs_dilation {new IntList(rd)} must have one entry per spatial dimension ({s})");
        var inShape = dn.LhsSpec.Skip(2).Select(d => lhs.Shape[d]).ToArray();
        var kShape = dn.RhsSpec.Skip(2).Select((d, i) => Convolution.Dilate(rhs.Shape[d], rd[i])).ToArray();
        var pads = PadtypeToPads(inShape, kShape, windowStrides, padding);
        return ConvGeneralDilated(lhs, rhs, windowStrides, pads, lhsDilation, rd, dn, featureGroupCount, batchGroupCount, preferredElementType);
    }

    /// <summary>lax.conv: NCH... input, OIH... kernel, no dilation; padding "SAME"/"VALID".</summary>
    /// <example><code>var y = Lax.Conv(Np.Ones([2, 3, 8, 8]), Np.Ones([4, 3, 3, 3]), [1, 1], "VALID"); // (2, 4, 6, 6)</code></example>
    public static Tensor Conv(Tensor lhs, Tensor rhs, int[] windowStrides, string padding) =>
        ConvGeneralDilated(lhs, rhs, windowStrides, padding);

    /// <summary>lax.conv with explicit (low, high) padding pairs.</summary>
    public static Tensor Conv(Tensor lhs, Tensor rhs, int[] windowStrides, (int Low, int High)[] padding) =>
        ConvGeneralDilated(lhs, rhs, windowStrides, padding);

    /// <summary>lax.conv_with_general_padding: NCH.../OIH... layout with explicit padding and dilations.</summary>
    public static Tensor ConvWithGeneralPadding(Tensor lhs, Tensor rhs, int[] windowStrides, (int Low, int High)[] padding,
        int[]? lhsDilation, int[]? rhsDilation) =>
        ConvGeneralDilated(lhs, rhs, windowStrides, padding, lhsDilation, rhsDilation);

    /// <summary>lax.conv_transpose: the gradient-style transposed convolution, computed as a convolution of the input
    /// dilated by <paramref name="strides"/>. Layouts default to NHC/HIO/NHC, NHWC/HWIO/NHWC or NHWDC/HWDIO/NHWDC by rank.
    /// With <paramref name="transposeKernel"/> the kernel's spatial axes are flipped and its I/O axes swapped, giving
    /// the exact transpose (gradient) of the corresponding forward convolution.</summary>
    /// <example><code>
    /// var x = Np.Ones([1, 4, 4, 2]); var k = Np.Ones([3, 3, 2, 5]);
    /// var y = Lax.ConvTranspose(x, k, [2, 2], "SAME"); // (1, 8, 8, 5)
    /// </code></example>
    public static Tensor ConvTranspose(Tensor lhs, Tensor rhs, int[] strides, string padding, int[]? rhsDilation = null,
        ConvDimensionNumbers? dimensionNumbers = null, bool transposeKernel = false)
    {
        var dn = ConvTransposeDims(lhs, rhs, dimensionNumbers);
        Convolution.CheckSpecs(dn, lhs.Shape, rhs.Shape);
        int s = lhs.Rank - 2;
        var rd = rhsDilation ?? Ones(s);
        if (strides.Length != s || rd.Length != s)
            throw new ShapeError($"ConvTranspose: strides {new IntList(strides)} and rhs_dilation {new IntList(rd)} need one entry per spatial dimension ({s}) of lhs {lhs.Shape}");
        var pads = new (int, int)[s];
        for (int i = 0; i < s; i++)
        {
            int k = Convolution.Dilate(rhs.Shape[dn.RhsSpec[2 + i]], rd[i]);
            pads[i] = ConvTransposePadding(k, strides[i], padding);
        }
        return ConvTranspose(lhs, rhs, strides, pads, rd, dn, transposeKernel);
    }

    /// <summary>lax.conv_transpose with explicit (low, high) padding of the stride-dilated input.</summary>
    public static Tensor ConvTranspose(Tensor lhs, Tensor rhs, int[] strides, (int Low, int High)[] padding, int[]? rhsDilation = null,
        ConvDimensionNumbers? dimensionNumbers = null, bool transposeKernel = false)
    {
        var dn = ConvTransposeDims(lhs, rhs, dimensionNumbers);
        int s = lhs.Rank - 2;
        if (transposeKernel)
        {
            rhs = Rev(rhs, dn.RhsSpec.Skip(2).ToArray());
            var perm = Enumerable.Range(0, rhs.Rank).ToArray();
            (perm[dn.RhsSpec[0]], perm[dn.RhsSpec[1]]) = (perm[dn.RhsSpec[1]], perm[dn.RhsSpec[0]]);
            rhs = Transpose(rhs, perm);
        }
        return ConvGeneralDilated(lhs, rhs, Ones(s), padding, strides, rhsDilation, dn);
    }

    private static ConvDimensionNumbers ConvTransposeDims(Tensor lhs, Tensor rhs, ConvDimensionNumbers? dn)
    {
        if (lhs.Rank != rhs.Rank || lhs.Rank < 2)
            throw new ShapeError($"ConvTranspose needs lhs and rhs of the same rank >= 2, got {lhs.Shape} and {rhs.Shape}");
        if (dn is not null) return dn;
        return lhs.Rank switch
        {
            2 => ("NC", "IO", "NC"),
            3 => ("NHC", "HIO", "NHC"),
            4 => ("NHWC", "HWIO", "NHWC"),
            5 => ("NHWDC", "HWDIO", "NHWDC"),
            _ => throw new InvalidArgumentError($"ConvTranspose has no default dimension numbers for rank {lhs.Rank}; pass dimensionNumbers explicitly"),
        };
    }

    /// <summary>The (low, high) padding of the stride-dilated input for conv_transpose's "SAME"/"VALID" (k is the
    /// dilated kernel size, s the stride).</summary>
    private static (int, int) ConvTransposePadding(int k, int s, string padding)
    {
        int padLen, padA;
        switch (padding.ToUpperInvariant())
        {
            case "SAME":
                padLen = k + s - 2;
                padA = s > k - 1 ? k - 1 : (int)Math.Ceiling(padLen / 2.0);
                break;
            case "VALID":
                padLen = k + s - 2 + Math.Max(k - s, 0);
                padA = k - 1;
                break;
            default:
                throw new InvalidArgumentError($"ConvTranspose: padding mode must be \"SAME\" or \"VALID\", got \"{padding}\"; pass explicit (low, high) pairs otherwise");
        }
        return (padA, padLen - padA);
    }

    /// <summary>lax.padtype_to_pads: explicit (low, high) pads for "VALID" (none), "SAME" (output size ceil(in / stride),
    /// the extra element on the high side) or "SAME_LOWER" (extra on the low side). Case-insensitive.</summary>
    /// <example><code>Lax.PadtypeToPads([5], [3], [2], "SAME") // [(1, 1)]</code></example>
    public static (int Low, int High)[] PadtypeToPads(int[] inShape, int[] windowShape, int[] windowStrides, string padding)
    {
        var mode = padding.ToUpperInvariant();
        if (mode is not ("SAME" or "SAME_LOWER" or "VALID"))
            throw new InvalidArgumentError($"Unrecognized padding type: expected 'VALID' or 'SAME', got {padding}.");
        if (windowShape.Length != inShape.Length || windowStrides.Length != inShape.Length)
            throw new ShapeError($"padding \"{padding}\": input spatial shape {new IntList(inShape)}, window {new IntList(windowShape)} and strides {new IntList(windowStrides)} must have the same length");
        if (windowStrides.Any(v => v <= 0))
            throw new InvalidArgumentError($"window strides must have every element be positive, got {new IntList(windowStrides)}");
        var pads = new (int, int)[inShape.Length];
        if (mode == "VALID") return pads;
        for (int i = 0; i < inShape.Length; i++)
        {
            int outSize = (inShape[i] + windowStrides[i] - 1) / windowStrides[i];
            int padSize = Math.Max(0, (outSize - 1) * windowStrides[i] + windowShape[i] - inShape[i]);
            pads[i] = mode == "SAME" ? (padSize / 2, padSize - padSize / 2) : (padSize - padSize / 2, padSize / 2);
        }
        return pads;
    }

    private static int ConvSpatialRank(Tensor lhs, Tensor rhs)
    {
        if (lhs.Rank != rhs.Rank)
            throw new ShapeError($"conv_general_dilated lhs and rhs must have the same number of dimensions, but got {lhs.Shape} and {rhs.Shape}");
        if (lhs.Rank < 2)
            throw new ShapeError($"conv_general_dilated needs operands of rank >= 2 (batch and feature dimensions, then spatial ones), got lhs {lhs.Shape} and rhs {rhs.Shape}");
        return lhs.Rank - 2;
    }

    private static int[] Ones(int n) => Enumerable.Repeat(1, n).ToArray();

    // ----- windowed reductions -----

    /// <summary>lax.reduce_window with a named monoid: <paramref name="computation"/> is "sum", "max" or "min" (binding
    /// reduce_window_sum / max / min). One window size, stride and (low, high) pad per operand dimension; padding and
    /// base-dilation holes hold the monoid's identity (0, −inf, +inf).</summary>
    /// <example><code>
    /// var x = Np.Array(new float[] { 1, 3, 2, 5, 4 });
    /// Lax.ReduceWindow(x, "max", [2], [1], [(0, 0)]);   // [3, 3, 5, 5]
    /// </code></example>
    public static Tensor ReduceWindow(Tensor x, string computation, int[] windowDimensions, int[] windowStrides,
        (int Low, int High)[] padding, int[]? baseDilation = null, int[]? windowDilation = null)
    {
        var prim = computation.ToLowerInvariant() switch
        {
            "sum" or "add" => Windowed.ReduceWindowSum,
            "max" => Windowed.ReduceWindowMax,
            "min" => Windowed.ReduceWindowMin,
            _ => throw new InvalidArgumentError($"ReduceWindow: unknown computation \"{computation}\"; use \"sum\", \"max\" or \"min\""),
        };
        var p = Windowed.MakeParams(windowDimensions, windowStrides, padding, baseDilation ?? Ones(x.Rank), windowDilation ?? Ones(x.Rank));
        return prim.Bind1([x], p);
    }

    /// <summary>lax.reduce_window with padding "SAME", "SAME_LOWER" or "VALID" (resolved with
    /// <see cref="PadtypeToPads"/> from the operand shape, window dimensions and strides).</summary>
    /// <example><code>Lax.ReduceWindow(Np.Ones([4, 4]), "sum", [3, 3], [1, 1], "SAME"); // corners 4, edges 6, inside 9</code></example>
    public static Tensor ReduceWindow(Tensor x, string computation, int[] windowDimensions, int[] windowStrides,
        string padding, int[]? baseDilation = null, int[]? windowDilation = null)
    {
        if (windowDimensions.Length != x.Rank)
            throw new ShapeError($"reduce_window got the wrong number of window_dimensions for operand: got operand shape {x.Shape} with window_dimensions {new IntList(windowDimensions)}");
        var pads = PadtypeToPads(x.Shape.ToArray(), windowDimensions, windowStrides, padding);
        return ReduceWindow(x, computation, windowDimensions, windowStrides, pads, baseDilation, windowDilation);
    }

    /// <summary>reduce_window_sum with explicit (low, high) padding.</summary>
    public static Tensor ReduceWindowSum(Tensor x, int[] windowDimensions, int[] windowStrides, (int Low, int High)[] padding,
        int[]? baseDilation = null, int[]? windowDilation = null) =>
        ReduceWindow(x, "sum", windowDimensions, windowStrides, padding, baseDilation, windowDilation);

    /// <summary>reduce_window_max with explicit (low, high) padding (padding is −inf).</summary>
    public static Tensor ReduceWindowMax(Tensor x, int[] windowDimensions, int[] windowStrides, (int Low, int High)[] padding,
        int[]? baseDilation = null, int[]? windowDilation = null) =>
        ReduceWindow(x, "max", windowDimensions, windowStrides, padding, baseDilation, windowDilation);

    /// <summary>reduce_window_min with explicit (low, high) padding (padding is +inf).</summary>
    public static Tensor ReduceWindowMin(Tensor x, int[] windowDimensions, int[] windowStrides, (int Low, int High)[] padding,
        int[]? baseDilation = null, int[]? windowDilation = null) =>
        ReduceWindow(x, "min", windowDimensions, windowStrides, padding, baseDilation, windowDilation);
}
