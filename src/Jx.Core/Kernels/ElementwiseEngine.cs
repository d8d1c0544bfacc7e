using System.Numerics;
using System.Runtime.InteropServices;

namespace Jx;

internal delegate void SpanFn<T>(ReadOnlySpan<T> x, Span<T> y);
internal delegate void SpanFn2<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y);
internal delegate void SpanFnScalar<T>(ReadOnlySpan<T> a, T b, Span<T> y);
internal delegate void CmpFn<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<bool> y);

/// <summary>Per-dtype span implementations of a unary elementwise op. Float16/BFloat16 run through <see cref="F32"/>.</summary>
internal sealed class UnaryImpl
{
    public SpanFn<float>? F32;
    public SpanFn<double>? F64;
    public SpanFn<int>? I32;
    public SpanFn<long>? I64;
    public SpanFn<uint>? U32;
    public SpanFn<bool>? Bool;

    /// <summary>Float implementations from a double-precision scalar function (special functions).</summary>
    public static UnaryImpl FromScalar(Func<double, double> f) => new()
    {
        F32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = (float)f(x[i]); },
        F64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = f(x[i]); },
    };
}

/// <summary>Per-dtype span implementations of a binary elementwise op, with optional span-scalar forms used
/// when one operand is a splat (a broadcast scalar).</summary>
internal sealed class BinaryImpl
{
    public SpanFn2<float>? F32;
    public SpanFn2<double>? F64;
    public SpanFn2<int>? I32;
    public SpanFn2<long>? I64;
    public SpanFn2<uint>? U32;
    public SpanFn2<bool>? Bool;
    public SpanFnScalar<float>? F32Right;   // a op scalar
    public SpanFnScalar<double>? F64Right;
    public SpanFnScalar<float>? F32Left;    // scalar op a (delegate gets (a, scalar))
    public SpanFnScalar<double>? F64Left;

    public static BinaryImpl FromScalar(Func<double, double, double> f) => new()
    {
        F32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (float)f(a[i], b[i]); },
        F64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = f(a[i], b[i]); },
    };
}

/// <summary>Runs elementwise span functions over buffers: dtype dispatch, splat shortcuts, half precision through
/// float32, and chunked parallelism for large arrays.</summary>
internal static class ElementwiseEngine
{
    public static Tensor Unary(Primitive p, Tensor x, Aval o, UnaryImpl impl)
    {
        var b = x.Buffer!;
        Array result = x.DType switch
        {
            DType.Float32 => Map(b.Array<float>(), b.IsSplat, impl.F32, p),
            DType.Float64 => Map(b.Array<double>(), b.IsSplat, impl.F64, p),
            DType.Int32 => Map(b.Array<int>(), b.IsSplat, impl.I32, p),
            DType.Int64 => Map(b.Array<long>(), b.IsSplat, impl.I64, p),
            DType.UInt32 => Map(b.Array<uint>(), b.IsSplat, impl.U32, p),
            DType.Bool => Map(b.Array<bool>(), b.IsSplat, impl.Bool, p),
            DType.Float16 or DType.BFloat16 => FromFloat(Map(ToFloat(b), false, impl.F32, p), x.DType),
            _ => throw Unsupported(p, x.DType),
        };
        return KernelUtil.Wrap(result, o, b.Device);
    }

    private static T[] Map<T>(T[] src, bool splat, SpanFn<T>? f, Primitive p) where T : unmanaged
    {
        if (f is null) throw Unsupported(p, DTypes.Of<T>());
        var dst = GC.AllocateUninitializedArray<T>(src.Length);
        if (src.Length == 0) return dst;
        if (src.Length < KernelUtil.ParallelThreshold) { f(src, dst); return dst; }
        KernelUtil.For(src.Length, (s, e) => f(src.AsSpan(s, e - s), dst.AsSpan(s, e - s)));
        return dst;
    }

    public static Tensor Binary(Primitive p, Tensor a, Tensor b, Aval o, BinaryImpl impl)
    {
        var ba = a.Buffer!;
        var bb = b.Buffer!;
        Array result = a.DType switch
        {
            DType.Float32 => Zip(ba, bb, impl.F32, impl.F32Right, impl.F32Left, p),
            DType.Float64 => Zip(ba, bb, impl.F64, impl.F64Right, impl.F64Left, p),
            DType.Int32 => Zip<int>(ba, bb, impl.I32, null, null, p),
            DType.Int64 => Zip<long>(ba, bb, impl.I64, null, null, p),
            DType.UInt32 => Zip<uint>(ba, bb, impl.U32, null, null, p),
            DType.Bool => Zip<bool>(ba, bb, impl.Bool, null, null, p),
            DType.Float16 or DType.BFloat16 => FromFloat(ZipArrays(ToFloat(ba), ToFloat(bb), impl.F32, p), a.DType),
            _ => throw Unsupported(p, a.DType),
        };
        return KernelUtil.Wrap(result, o, ba.Device);
    }

    private static T[] Zip<T>(Buffer a, Buffer b, SpanFn2<T>? f, SpanFnScalar<T>? right, SpanFnScalar<T>? left, Primitive p) where T : unmanaged
    {
        int n = a.Length;
        if (n > 1 && right is not null && b.IsSplat && b.TryGetSplat<T>(out var sb))
        {
            var x = a.Array<T>();
            var dst = GC.AllocateUninitializedArray<T>(n);
            KernelUtil.For(n, (s, e) => right(x.AsSpan(s, e - s), sb, dst.AsSpan(s, e - s)));
            return dst;
        }
        if (n > 1 && left is not null && a.IsSplat && a.TryGetSplat<T>(out var sa))
        {
            var y = b.Array<T>();
            var dst = GC.AllocateUninitializedArray<T>(n);
            KernelUtil.For(n, (s, e) => left(y.AsSpan(s, e - s), sa, dst.AsSpan(s, e - s)));
            return dst;
        }
        return ZipArrays(a.Array<T>(), b.Array<T>(), f, p);
    }

    private static T[] ZipArrays<T>(T[] a, T[] b, SpanFn2<T>? f, Primitive p) where T : unmanaged
    {
        if (f is null) throw Unsupported(p, DTypes.Of<T>());
        var dst = GC.AllocateUninitializedArray<T>(a.Length);
        if (a.Length == 0) return dst;
        if (a.Length < KernelUtil.ParallelThreshold) { f(a, b, dst); return dst; }
        KernelUtil.For(a.Length, (s, e) => f(a.AsSpan(s, e - s), b.AsSpan(s, e - s), dst.AsSpan(s, e - s)));
        return dst;
    }

    /// <summary>A splat buffer as its one value (not expanded), any other buffer as its array.</summary>
    internal static T[] Operand<T>(Buffer b) where T : struct => b.IsSplat && b.TryGetSplat<T>(out var v) ? [v] : b.Array<T>();

    /// <summary>A comparison producing bool, for every dtype.</summary>
    public static Tensor Compare(Tensor a, Tensor b, Aval o, ComparisonKind kind)
    {
        var ba = a.Buffer!;
        var bb = b.Buffer!;
        var dst = new bool[o.Size];
        switch (a.DType)
        {
            case DType.Float32: CompareLoop(Operand<float>(ba), Operand<float>(bb), dst, kind); break;
            case DType.Float64: CompareLoop(Operand<double>(ba), Operand<double>(bb), dst, kind); break;
            case DType.Int32: CompareLoop(Operand<int>(ba), Operand<int>(bb), dst, kind); break;
            case DType.Int64: CompareLoop(Operand<long>(ba), Operand<long>(bb), dst, kind); break;
            case DType.UInt32: CompareLoop(Operand<uint>(ba), Operand<uint>(bb), dst, kind); break;
            case DType.Bool:
                CompareLoop(MemoryMarshal.Cast<bool, byte>(ba.Span<bool>()).ToArray(), MemoryMarshal.Cast<bool, byte>(bb.Span<bool>()).ToArray(), dst, kind);
                break;
            default: CompareLoop(ToFloat(ba), ToFloat(bb), dst, kind); break;
        }
        return KernelUtil.Wrap(dst, o, ba.Device);
    }

    /// <summary>y = a (kind) b over y's length; a side of length 1 (a splat such as the 0 of relu's derivative, kept
    /// unexpanded by <see cref="Operand{T}"/>) is compared as a scalar.</summary>
    private static void CompareLoop<T>(T[] a, T[] b, bool[] y, ComparisonKind kind) where T : unmanaged, IComparisonOperators<T, T, bool>
    {
        int n = y.Length;
        if (n == 0) return;
        if (a.Length == 1 && b.Length == 1)
        {
            y.AsSpan().Fill(Compare1(a[0], b[0], kind));
            return;
        }
        if (b.Length == 1) { CompareScalar(a, b[0], y, kind, flip: false); return; }
        if (a.Length == 1) { CompareScalar(b, a[0], y, kind, flip: true); return; }
        KernelUtil.For(n, (s, e) =>
        {
            switch (kind)
            {
                case ComparisonKind.Eq: for (int i = s; i < e; i++) y[i] = a[i] == b[i]; break;
                case ComparisonKind.Ne: for (int i = s; i < e; i++) y[i] = a[i] != b[i]; break;
                case ComparisonKind.Lt: for (int i = s; i < e; i++) y[i] = a[i] < b[i]; break;
                case ComparisonKind.Le: for (int i = s; i < e; i++) y[i] = a[i] <= b[i]; break;
                case ComparisonKind.Gt: for (int i = s; i < e; i++) y[i] = a[i] > b[i]; break;
                case ComparisonKind.Ge: for (int i = s; i < e; i++) y[i] = a[i] >= b[i]; break;
            }
        });
    }

    private static bool Compare1<T>(T a, T b, ComparisonKind kind) where T : IComparisonOperators<T, T, bool> => kind switch
    {
        ComparisonKind.Eq => a == b,
        ComparisonKind.Ne => a != b,
        ComparisonKind.Lt => a < b,
        ComparisonKind.Le => a <= b,
        ComparisonKind.Gt => a > b,
        _ => a >= b,
    };

    /// <summary>x[i] (kind) c, or c (kind) x[i] when <paramref name="flip"/>.</summary>
    private static void CompareScalar<T>(T[] x, T c, bool[] y, ComparisonKind kind, bool flip) where T : unmanaged, IComparisonOperators<T, T, bool>
    {
        if (flip)
            kind = kind switch { ComparisonKind.Lt => ComparisonKind.Gt, ComparisonKind.Le => ComparisonKind.Ge, ComparisonKind.Gt => ComparisonKind.Lt, ComparisonKind.Ge => ComparisonKind.Le, var k => k };
        KernelUtil.For(y.Length, (s, e) =>
        {
            switch (kind)
            {
                case ComparisonKind.Eq: for (int i = s; i < e; i++) y[i] = x[i] == c; break;
                case ComparisonKind.Ne: for (int i = s; i < e; i++) y[i] = x[i] != c; break;
                case ComparisonKind.Lt: for (int i = s; i < e; i++) y[i] = x[i] < c; break;
                case ComparisonKind.Le: for (int i = s; i < e; i++) y[i] = x[i] <= c; break;
                case ComparisonKind.Gt: for (int i = s; i < e; i++) y[i] = x[i] > c; break;
                case ComparisonKind.Ge: for (int i = s; i < e; i++) y[i] = x[i] >= c; break;
            }
        });
    }

    public static float[] ToFloat(Buffer b)
    {
        switch (b.DType)
        {
            case DType.Float32: return b.Array<float>();
            case DType.Float16:
            {
                var s = b.Span<Half>();
                var r = new float[s.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(s, r);
                return r;
            }
            case DType.BFloat16:
            {
                var s = b.Span<BFloat16>();
                var r = new float[s.Length];
                for (int i = 0; i < s.Length; i++) r[i] = (float)s[i];
                return r;
            }
            default:
            {
                var r = new float[b.Length];
                for (int i = 0; i < r.Length; i++) r[i] = (float)b.GetDouble(i);
                return r;
            }
        }
    }

    public static Array FromFloat(float[] f, DType to)
    {
        switch (to)
        {
            case DType.Float32: return f;
            case DType.Float16:
            {
                var r = new Half[f.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(f, r);
                return r;
            }
            case DType.BFloat16:
            {
                var r = new BFloat16[f.Length];
                for (int i = 0; i < f.Length; i++) r[i] = (BFloat16)f[i];
                return r;
            }
            default: throw new InvalidOperationException();
        }
    }

    public static DTypeError Unsupported(Primitive p, DType d) =>
        new($"'{p.Name}' does not accept {d.Name()} operands");
}

internal enum ComparisonKind { Eq, Ne, Lt, Le, Gt, Ge }
