namespace Jx;

/// <summary>A generic function over a typed array, so a kernel is written once for every dtype.</summary>
internal interface IArrayFunc<out TResult>
{
    TResult Invoke<T>(T[] data) where T : unmanaged;
}

/// <summary>Shared mechanics of the eager kernels: dtype dispatch, parallel chunking, strided copies.</summary>
internal static class KernelUtil
{
    /// <summary>Elements per task below which a kernel stays on one thread.</summary>
    public const int ParallelThreshold = 1 << 15;

    public static TResult Visit<TResult>(Buffer b, IArrayFunc<TResult> f) => b.DType switch
    {
        DType.Bool => f.Invoke(b.Array<bool>()),
        DType.Int32 => f.Invoke(b.Array<int>()),
        DType.Int64 => f.Invoke(b.Array<long>()),
        DType.UInt32 => f.Invoke(b.Array<uint>()),
        DType.Float16 => f.Invoke(b.Array<Half>()),
        DType.BFloat16 => f.Invoke(b.Array<BFloat16>()),
        DType.Float32 => f.Invoke(b.Array<float>()),
        DType.Float64 => f.Invoke(b.Array<double>()),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Runs body(start, end) over [0, n) in chunks on the thread pool when n is large.</summary>
    public static void For(int n, Action<int, int> body, int grain = ParallelThreshold)
    {
        int workers = Environment.ProcessorCount;
        if (n < 2 * grain || workers == 1) { body(0, n); return; }
        int chunks = Math.Min(workers * 4, (n + grain - 1) / grain);
        int per = (n + chunks - 1) / chunks;
        per = (per + 63) & ~63;
        chunks = (n + per - 1) / per;
        Parallel.For(0, chunks, c =>
        {
            int s = c * per, e = Math.Min(n, s + per);
            body(s, e);
        });
    }

    /// <summary>dst[out index] = src[offset + Σ index[k]·strides[k]] for every index of <paramref name="outShape"/>:
    /// broadcast (stride 0), transpose (permuted strides), slice and reverse (negative strides) in one routine.</summary>
    public static T[] Strided<T>(T[] src, int offset, int[] outShape, int[] strides) where T : unmanaged
    {
        int size = 1;
        foreach (var d in outShape) size *= d;
        var dst = GC.AllocateUninitializedArray<T>(size);
        if (size == 0) return dst;
        int rank = outShape.Length;
        if (rank == 0) { dst[0] = src[offset]; return dst; }
        int inner = outShape[rank - 1], innerStride = strides[rank - 1];
        if (rank >= 2 && strides[rank - 2] == 1 && innerStride > 1 && outShape[rank - 2] >= 8 && inner >= 8)
        {
            TransposeTiles(src, dst, offset, outShape, strides);
            return dst;
        }
        int rows = size / inner;
        For(rows, (r0, r1) =>
        {
            var idx = new int[rank];
            // Unravel r0 into outer indices.
            int rem = r0;
            for (int k = rank - 2; k >= 0; k--) { idx[k] = rem % outShape[k]; rem /= outShape[k]; }
            for (int r = r0; r < r1; r++)
            {
                int off = offset;
                for (int k = 0; k < rank - 1; k++) off += idx[k] * strides[k];
                var d = dst.AsSpan(r * inner, inner);
                if (innerStride == 1) src.AsSpan(off, inner).CopyTo(d);
                else if (innerStride == 0) d.Fill(src[off]);
                else for (int j = 0; j < inner; j++) d[j] = src[off + j * innerStride];
                for (int k = rank - 2; k >= 0; k--)
                {
                    if (++idx[k] < outShape[k]) break;
                    idx[k] = 0;
                }
            }
        }, Math.Max(1, ParallelThreshold / inner));
        return dst;
    }

    /// <summary>The strided copy whose last two output dims are a transpose of the source's (the second-last reads with
    /// stride 1, the last with a larger stride): copied in square tiles so that both the reads and the writes stay within
    /// a few cache lines, in parallel over (outer index, tile row).</summary>
    private static void TransposeTiles<T>(T[] src, T[] dst, int offset, int[] outShape, int[] strides) where T : unmanaged
    {
        const int Tile = 32;
        int rank = outShape.Length;
        int R = outShape[rank - 2], C = outShape[rank - 1], cs = strides[rank - 1];
        int outer = 1;
        for (int k = 0; k < rank - 2; k++) outer *= outShape[k];
        int rowTiles = (R + Tile - 1) / Tile;
        For(outer * rowTiles, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                int o = t / rowTiles, i0 = t % rowTiles * Tile;
                int rem = o, baseOff = offset;
                for (int k = rank - 3; k >= 0; k--) { baseOff += rem % outShape[k] * strides[k]; rem /= outShape[k]; }
                int i1 = Math.Min(R, i0 + Tile);
                long dstBase = (long)o * R * C;
                for (int j0 = 0; j0 < C; j0 += Tile)
                {
                    int j1 = Math.Min(C, j0 + Tile);
                    for (int i = i0; i < i1; i++)
                    {
                        int s0 = baseOff + i;
                        long d0 = dstBase + (long)i * C;
                        for (int j = j0; j < j1; j++) dst[d0 + j] = src[s0 + j * cs];
                    }
                }
            }
        }, Math.Max(1, ParallelThreshold / (Tile * C)));
    }

    /// <summary>Row-major strides of a shape.</summary>
    public static int[] StridesOf(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    public sealed class StridedFunc(int offset, int[] outShape, int[] strides) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] data) where T : unmanaged => Strided(data, offset, outShape, strides);
    }

    /// <summary>A strided view of a concrete tensor copied out as a new tensor.</summary>
    public static Tensor StridedTensor(Tensor x, int offset, int[] outShape, int[] strides, Aval outAval)
    {
        var arr = Visit(x.Buffer!, new StridedFunc(offset, outShape, strides));
        return Tensor.Own(arr, x.DType, outAval.Shape, x.Buffer!.Device, outAval.Weak);
    }

    /// <summary>A new concrete tensor of the given aval over an array the caller will not write again.</summary>
    public static Tensor Wrap(Array data, Aval aval, Device? device = null) => new(new Buffer(data, aval.DType, device ?? Device.Default), aval);

    /// <summary>A tensor with the same values in an array of its own (a splat, which has no array, is returned as is):
    /// for values that must not share storage with a buffer that will be reused or donated.</summary>
    public static Tensor CopyOf(Tensor t)
    {
        var b = t.Buffer!;
        if (b.IsSplat) return t;
        var dst = NewUninitialized(b.DType, b.Length);
        Array.Copy(b.RawArray(), dst, b.Length);
        return Tensor.Own(dst, b.DType, t.Shape, b.Device, t.WeakType);
    }

    /// <summary>An array for n elements of the dtype whose contents the caller overwrites entirely.</summary>
    public static Array NewUninitialized(DType d, int n) => d switch
    {
        DType.Bool => GC.AllocateUninitializedArray<bool>(n),
        DType.Int32 => GC.AllocateUninitializedArray<int>(n),
        DType.Int64 => GC.AllocateUninitializedArray<long>(n),
        DType.UInt32 => GC.AllocateUninitializedArray<uint>(n),
        DType.Float16 => GC.AllocateUninitializedArray<Half>(n),
        DType.BFloat16 => GC.AllocateUninitializedArray<BFloat16>(n),
        DType.Float32 => GC.AllocateUninitializedArray<float>(n),
        DType.Float64 => GC.AllocateUninitializedArray<double>(n),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>A splat buffer of n elements holding the value of the splat buffer <paramref name="b"/>.</summary>
    internal static Buffer SplatRow(Buffer b, int n) => b.DType switch
    {
        DType.Bool => Buffer.Splat(b.Get<bool>(0), n, b.Device),
        DType.Int32 => Buffer.Splat(b.Get<int>(0), n, b.Device),
        DType.Int64 => Buffer.Splat(b.Get<long>(0), n, b.Device),
        DType.UInt32 => Buffer.Splat(b.Get<uint>(0), n, b.Device),
        DType.Float16 => Buffer.Splat(b.Get<Half>(0), n, b.Device),
        DType.BFloat16 => Buffer.Splat(b.Get<BFloat16>(0), n, b.Device),
        DType.Float32 => Buffer.Splat(b.Get<float>(0), n, b.Device),
        DType.Float64 => Buffer.Splat(b.Get<double>(0), n, b.Device),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Fills dst[offset .. offset + count) with the value of the splat buffer <paramref name="b"/>.</summary>
    internal static void FillRange(Array dst, long offset, int count, Buffer b)
    {
        switch (dst)
        {
            case bool[] a: a.AsSpan((int)offset, count).Fill(b.Get<bool>(0)); break;
            case int[] a: a.AsSpan((int)offset, count).Fill(b.Get<int>(0)); break;
            case long[] a: a.AsSpan((int)offset, count).Fill(b.Get<long>(0)); break;
            case uint[] a: a.AsSpan((int)offset, count).Fill(b.Get<uint>(0)); break;
            case Half[] a: a.AsSpan((int)offset, count).Fill(b.Get<Half>(0)); break;
            case BFloat16[] a: a.AsSpan((int)offset, count).Fill(b.Get<BFloat16>(0)); break;
            case float[] a: a.AsSpan((int)offset, count).Fill(b.Get<float>(0)); break;
            case double[] a: a.AsSpan((int)offset, count).Fill(b.Get<double>(0)); break;
            default: throw new InvalidOperationException();
        }
    }

    public static Array NewArray(DType d, int n) => d switch
    {
        DType.Bool => new bool[n],
        DType.Int32 => new int[n],
        DType.Int64 => new long[n],
        DType.UInt32 => new uint[n],
        DType.Float16 => new Half[n],
        DType.BFloat16 => new BFloat16[n],
        DType.Float32 => new float[n],
        DType.Float64 => new double[n],
        _ => throw new InvalidOperationException(),
    };
}
