namespace Jx;

public static partial class Np
{
    /// <summary>A tensor from any rectangular C# array (float[], double[,], int[,,] ...) or a jagged array
    /// (float[][]); ragged jagged arrays raise an <see cref="InvalidArgumentError"/>.</summary>
    /// <example><code>var m = Np.Array(new double[,] { { 1, 2 }, { 3, 4 } }); // float64 (2, 2)</code></example>
    public static Tensor Array(Array data)
    {
        var elem = data.GetType().GetElementType()!;
        if (elem.IsArray) return FromJagged(data);
        var dtype = DTypes.FromClr(elem);
        var shape = Enumerable.Range(0, data.Rank).Select(data.GetLength).ToArray();
        var flat = KernelUtil.NewArray(dtype, data.Length);
        if (data.Rank == 1) System.Array.Copy(data, flat, data.Length);
        else
        {
            // A multidimensional array is one row-major block; copy its bytes (Buffer.BlockCopy rejects Half and BFloat16).
            int bytes = data.Length * dtype.ItemSize();
            var src = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
                ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(data), bytes);
            var dst = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
                ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(flat), bytes);
            src.CopyTo(dst);
        }
        return Tensor.Own(flat, dtype, new Shape(shape));
    }

    private static Tensor FromJagged(Array data)
    {
        var shape = new List<int>();
        object? cur = data;
        while (cur is Array a && a.Rank == 1)
        {
            shape.Add(a.Length);
            if (a.Length == 0) break;
            cur = a.GetValue(0);
        }
        var leafType = data.GetType();
        while (leafType.IsArray) leafType = leafType.GetElementType()!;
        var dtype = DTypes.FromClr(leafType);
        var flat = new List<object>();
        void Walk(object? node, int depth, string path)
        {
            if (depth == shape.Count) { flat.Add(node!); return; }
            if (node is not Array arr || arr.Rank != 1)
                throw new InvalidArgumentError($"Np.Array: ragged nested array: {path} is not an array at depth {depth}");
            if (arr.Length != shape[depth])
                throw new InvalidArgumentError($"Np.Array: ragged nested array: {path} has length {arr.Length}, expected {shape[depth]} like its first sibling; every row must have the same length");
            for (int i = 0; i < arr.Length; i++) Walk(arr.GetValue(i), depth + 1, $"{path}[{i}]");
        }
        Walk(data, 0, "data");
        var result = KernelUtil.NewArray(dtype, flat.Count);
        for (int i = 0; i < flat.Count; i++) result.SetValue(flat[i], i);
        return Tensor.Own(result, dtype, new Shape(shape.ToArray()));
    }

    public static Tensor Array<T>(T[] data) where T : struct => Tensor.FromArray(data);
    public static Tensor Array(float v) => Tensor.Scalar(v);
    public static Tensor Array(double v) => Tensor.Scalar(v);
    public static Tensor Array(int v) => Tensor.Scalar(v);
    public static Tensor Array(bool v) => Tensor.Scalar(v);
    /// <summary>Converts to a tensor of the given dtype.</summary>
    public static Tensor Asarray(Tensor x, DType? dtype = null) => dtype is null ? x : x.AsType(dtype.Value);

    public static Tensor Zeros(Shape shape, DType dtype = DType.Float32) => Full(shape, 0, dtype);
    public static Tensor Ones(Shape shape, DType dtype = DType.Float32) => Full(shape, 1, dtype);
    public static Tensor Empty(Shape shape, DType dtype = DType.Float32) => Zeros(shape, dtype);

    /// <summary>Every element equal to <paramref name="value"/> (stored once until something needs the full array).</summary>
    public static Tensor Full(Shape shape, double value, DType dtype = DType.Float32)
    {
        var one = Conversions.Convert(Tensor.Scalar(value), new Aval(Shape.Scalar, dtype));
        return ShapeOps.SplatOf(one, new Aval(shape, dtype));
    }

    public static Tensor Full(Shape shape, bool value) => Tensor.Splat(value, shape);

    /// <summary>A tensor of x's shape (and dtype, unless given) filled with value.</summary>
    public static Tensor FullLike(Tensor x, double value, DType? dtype = null) =>
        Lax.BroadcastInDim(Lax.ConvertElementType(Tensor.Scalar(value), dtype ?? x.DType, dtype is null && x.WeakType), x.Shape, []);
    public static Tensor ZerosLike(Tensor x, DType? dtype = null) => FullLike(x, 0, dtype);
    public static Tensor OnesLike(Tensor x, DType? dtype = null) => FullLike(x, 1, dtype);

    /// <summary>Values start, start+step, ... below stop. Integer arguments give int32; any fractional one gives float32.</summary>
    public static Tensor Arange(double start, double stop, double step = 1, DType? dtype = null)
    {
        if (step == 0) throw new InvalidArgumentError("Arange: step must not be zero");
        int n = Math.Max(0, (int)Math.Ceiling((stop - start) / step));
        bool integral = start == Math.Floor(start) && step == Math.Floor(step) && stop == Math.Floor(stop);
        var dt = dtype ?? (integral ? DType.Int32 : DType.Float32);
        var vals = new double[n];
        for (int i = 0; i < n; i++) vals[i] = start + i * step;
        return Conversions.Convert(Tensor.Own(vals, DType.Float64, new Shape(n)), new Aval(new Shape(n), dt));
    }

    public static Tensor Arange(int stop, DType? dtype = null) => Arange(0, stop, 1, dtype);

    /// <summary><paramref name="num"/> evenly spaced values from start to stop (inclusive when endpoint).</summary>
    public static Tensor Linspace(double start, double stop, int num = 50, bool endpoint = true, DType dtype = DType.Float32)
    {
        if (num < 0) throw new InvalidArgumentError($"Linspace: num must be >= 0, got {num}");
        var vals = new double[num];
        double div = endpoint ? num - 1 : num;
        double step = div > 0 ? (stop - start) / div : 0;
        for (int i = 0; i < num; i++) vals[i] = start + i * step;
        if (endpoint && num > 1) vals[^1] = stop;
        return Conversions.Convert(Tensor.Own(vals, DType.Float64, new Shape(num)), new Aval(new Shape(num), dtype));
    }

    /// <summary>An N×M matrix with ones on diagonal k.</summary>
    public static Tensor Eye(int n, int? m = null, int k = 0, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        var rows = Lax.BroadcastedIota(DType.Int32, new Shape(n, cols), 0);
        var colsI = Lax.BroadcastedIota(DType.Int32, new Shape(n, cols), 1);
        return Lax.ConvertElementType(Lax.Eq(Lax.Add(rows, Full(new Shape(n, cols), k, DType.Int32)), colsI), dtype);
    }

    public static Tensor Identity(int n, DType dtype = DType.Float32) => Eye(n, null, 0, dtype);
}
