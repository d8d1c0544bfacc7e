namespace Jx;

/// <summary>jax.numpy for C#: NumPy broadcasting and JAX type promotion over the primitives. Every function here is a
/// composition of primitives (so it traces, differentiates and batches).</summary>
/// <example><code>
/// var x = Np.Arange(6).Reshape(2, 3).AsType(DType.Float32);
/// var m = Np.Mean(x, axis: 0);                 // [1.5, 2.5, 3.5]
/// var y = Np.Where(x > 2, x, Np.ZerosLike(x));
/// </code></example>
public static partial class Np
{
    // ----- promotion and broadcasting -----

    /// <summary>The dtype (and weakness) that the operands promote to.</summary>
    public static (DType DType, bool Weak) ResultType(params Tensor[] xs) =>
        TypePromotion.ResultType(xs.Select(x => (x.DType, x.WeakType)).ToArray());

    /// <summary>Converts every operand to their common dtype.</summary>
    public static Tensor[] PromoteDTypes(params Tensor[] xs)
    {
        var (d, weak) = ResultType(xs);
        return xs.Select(x => Lax.ConvertElementType(x, d, weak)).ToArray();
    }

    /// <summary>The NumPy broadcast shape of the given shapes, or a ShapeError naming them all.</summary>
    public static Shape BroadcastShapes(params Shape[] shapes) => BroadcastShapesFor(null, shapes);

    /// <summary><see cref="BroadcastShapes"/> with the name of the operation that needs it, for the error message.</summary>
    internal static Shape BroadcastShapesFor(string? op, params Shape[] shapes)
    {
        int rank = shapes.Max(s => s.Rank);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int d = 1;
            foreach (var s in shapes)
            {
                int k = i - (rank - s.Rank);
                if (k < 0) continue;
                int v = s[k];
                if (v == 1) continue;
                if (d != 1 && d != v)
                    throw new ShapeError($"{(op is null ? "" : op + " got ")}incompatible shapes for broadcasting: {string.Join(", ", shapes.Select(x => x.ToString()))} (axis {i - rank}: {d} vs {v})");
                d = v;
            }
            r[i] = shapes.Any(s => i - (rank - s.Rank) >= 0 && s[i - (rank - s.Rank)] == 0) ? 0 : d;
        }
        return new Shape(r);
    }

    /// <summary>Broadcasts x to shape by NumPy rules.</summary>
    public static Tensor BroadcastTo(Tensor x, Shape shape)
    {
        if (x.Shape == shape) return x;
        if (x.Rank > shape.Rank) throw new ShapeError($"cannot broadcast shape {x.Shape} to {shape}: it has more dimensions");
        int lead = shape.Rank - x.Rank;
        for (int i = 0; i < x.Rank; i++)
            if (x.Shape[i] != 1 && x.Shape[i] != shape[lead + i])
                throw new ShapeError($"cannot broadcast shape {x.Shape} to {shape}");
        // Size-1 dims that grow are dropped and re-added by broadcast_in_dim.
        var keep = Enumerable.Range(0, x.Rank).Where(i => !(x.Shape[i] == 1 && shape[lead + i] != 1)).ToArray();
        var squeezed = keep.Length == x.Rank ? x : Lax.Reshape(x, new Shape(keep.Select(i => x.Shape[i]).ToArray()));
        return Lax.BroadcastInDim(squeezed, shape, keep.Select(i => lead + i).ToArray());
    }

    public static Tensor[] BroadcastArrays(params Tensor[] xs) => BroadcastArraysFor(null, xs);

    internal static Tensor[] BroadcastArraysFor(string? op, params Tensor[] xs)
    {
        var shape = BroadcastShapesFor(op, xs.Select(x => x.Shape).ToArray());
        return xs.Select(x => BroadcastTo(x, shape)).ToArray();
    }

    /// <summary>Promotes and broadcasts two operands; <paramref name="op"/> (the calling Np method) names the operation in errors.</summary>
    private static Tensor[] Prepare(Tensor a, Tensor b, [System.Runtime.CompilerServices.CallerMemberName] string op = "") =>
        BroadcastArraysFor("Np." + op, PromoteDTypes(a, b));

    private static Tensor Binary(Func<Tensor, Tensor, Tensor> f, Tensor a, Tensor b, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        if (a.DType == b.DType && a.WeakType == b.WeakType && a.Shape == b.Shape) return f(a, b);
        var p = Prepare(a, b, op);
        return f(p[0], p[1]);
    }

    private static Tensor FloatUnary(Func<Tensor, Tensor> op, Tensor x) => op(ToFloat(x));

    /// <summary>Integers and bools become the default float type (float32), as jnp's inexact ops do.</summary>
    internal static Tensor ToFloat(Tensor x) => x.DType.IsFloating() ? x : Lax.ConvertElementType(x, DType.Float32, x.WeakType);

    // ----- arithmetic -----
    /// <summary>a + b; on bools a logical or, as jnp.add.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary((x, y) => x.DType == DType.Bool ? Lax.Or(x, y) : Lax.Add(x, y), a, b);
    public static Tensor Subtract(Tensor a, Tensor b) => Binary(Lax.Sub, a, b);
    /// <summary>a * b; on bools a logical and, as jnp.multiply.</summary>
    public static Tensor Multiply(Tensor a, Tensor b) => Binary((x, y) => x.DType == DType.Bool ? Lax.And(x, y) : Lax.Mul(x, y), a, b);
    /// <summary>True division: integers are promoted to float first, as jnp.divide does.</summary>
    public static Tensor Divide(Tensor a, Tensor b)
    {
        var p = Prepare(a, b);
        return p[0].DType.IsFloating() ? Lax.Div(p[0], p[1]) : Lax.Div(ToFloat(p[0]), ToFloat(p[1]));
    }
    public static Tensor TrueDivide(Tensor a, Tensor b) => Divide(a, b);
    /// <summary>Floor division, rounding toward negative infinity, as jnp.floor_divide: integers adjust the truncated
    /// quotient where the signs differ (x // 0 is -2 for x != 0, -1 for 0, following lax.div's x / 0 = -1); unsigned
    /// integers use lax.div; floats follow CPython's divmod, so <c>1.0 // 0.1 == 9.0</c>.</summary>
    public static Tensor FloorDivide(Tensor a, Tensor b)
    {
        var p = Prepare(a, b);
        var (x, y) = (p[0], p[1]);
        if (x.DType.IsUnsigned()) return Lax.Div(x, y);
        if (x.DType.IsFloating())
        {
            var mod = Lax.Rem(x, y);
            var div = Lax.Div(Lax.Sub(x, mod), y);
            var ind = Lax.And(Lax.Ne(mod, ConstLike(0, mod)), Lax.Ne(Lax.Sign(y), Lax.Sign(mod)));
            div = Lax.Select(ind, Lax.Sub(div, ConstLike(1, div)), div);
            return Lax.Round(div, 0);
        }
        var q = Lax.Div(x, y);
        var adjust = Lax.And(Lax.Ne(Lax.Sign(x), Lax.Sign(y)), Lax.Ne(Lax.Rem(x, y), ConstLike(0, x)));
        return Lax.Select(adjust, Lax.Sub(q, ConstLike(1, q)), q);
    }
    /// <summary>Python/NumPy remainder: the result has the divisor's sign (the C# % operator on tensors uses this).
    /// As jnp.remainder, an integer x % 0 is 0; a float x % 0 is NaN.</summary>
    public static Tensor Remainder(Tensor a, Tensor b)
    {
        var p = Prepare(a, b);
        var (x, y) = (p[0], p[1]);
        if (!y.DType.IsFloating()) y = Lax.Select(Lax.Eq(y, ConstLike(0, y)), ConstLike(1, y), y);
        var r = Lax.Rem(x, y);
        var zero = ConstLike(0, r);
        var fix = Lax.And(Lax.Ne(r, zero), Lax.Ne(Lax.Lt(r, zero), Lax.Lt(y, zero)));
        return Lax.Select(fix, Lax.Add(r, y), r);
    }

    /// <summary>A constant of like's shape, dtype and weakness.</summary>
    private static Tensor ConstLike(double value, Tensor like) =>
        BroadcastTo(Lax.ConvertElementType(Tensor.Scalar(value), like.DType, like.WeakType), like.Shape);
    public static Tensor Mod(Tensor a, Tensor b) => Remainder(a, b);
    /// <summary>C-style remainder with the dividend's sign (lax.rem).</summary>
    public static Tensor Fmod(Tensor a, Tensor b) => Binary(Lax.Rem, a, b);
    public static Tensor Power(Tensor a, Tensor b)
    {
        // An integer literal exponent becomes integer_pow, as jnp.power does for static ints.
        if (b.IsConcrete && b.WeakType && b.Rank == 0 && b.DType == DType.Int32)
            return Lax.IntegerPow(a.WeakType ? a : a, b.Item<int>());
        var p = Prepare(a, b);
        if (!p[0].DType.IsFloating()) throw new DTypeError($"Np.Power of {p[0].DType.Name()} operands needs a static integer exponent or float operands");
        return Lax.Pow(p[0], p[1]);
    }
    public static Tensor Pow(Tensor a, Tensor b) => Power(a, b);
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(Lax.Max, a, b);
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(Lax.Min, a, b);
    public static Tensor Arctan2(Tensor a, Tensor b) { var p = Prepare(ToFloat(a), ToFloat(b)); return Lax.Atan2(p[0], p[1]); }
    public static Tensor NextAfter(Tensor a, Tensor b) { var p = Prepare(ToFloat(a), ToFloat(b)); return Lax.NextAfter(p[0], p[1]); }
    public static Tensor Negative(Tensor x) => Lax.Neg(x);
    public static Tensor Positive(Tensor x) => x;
    public static Tensor Abs(Tensor x) => x.DType == DType.Bool ? x : Lax.Abs(x);
    public static Tensor Absolute(Tensor x) => Abs(x);
    public static Tensor Sign(Tensor x) => Lax.Sign(x);
    public static Tensor Square(Tensor x) => Lax.Square(x);
    public static Tensor Reciprocal(Tensor x) => Divide(Lax.ConvertElementType(Tensor.Scalar(1), ToFloat(x).DType, true), x);

    // ----- transcendental -----
    public static Tensor Exp(Tensor x) => FloatUnary(Lax.Exp, x);
    public static Tensor Exp2(Tensor x) => FloatUnary(Lax.Exp2, x);
    public static Tensor Expm1(Tensor x) => FloatUnary(Lax.Expm1, x);
    public static Tensor Log(Tensor x) => FloatUnary(Lax.Log, x);
    public static Tensor Log1p(Tensor x) => FloatUnary(Lax.Log1p, x);
    public static Tensor Log2(Tensor x) { x = ToFloat(x); return Lax.Div(Lax.Log(x), Full(x.Shape, Math.Log(2), x.DType)); }
    public static Tensor Log10(Tensor x) { x = ToFloat(x); return Lax.Div(Lax.Log(x), Full(x.Shape, Math.Log(10), x.DType)); }
    public static Tensor Sqrt(Tensor x) => FloatUnary(Lax.Sqrt, x);
    public static Tensor Rsqrt(Tensor x) => FloatUnary(Lax.Rsqrt, x);
    public static Tensor Cbrt(Tensor x) => FloatUnary(Lax.Cbrt, x);
    public static Tensor Sin(Tensor x) => FloatUnary(Lax.Sin, x);
    public static Tensor Cos(Tensor x) => FloatUnary(Lax.Cos, x);
    public static Tensor Tan(Tensor x) => FloatUnary(Lax.Tan, x);
    public static Tensor Arcsin(Tensor x) => FloatUnary(Lax.Asin, x);
    public static Tensor Arccos(Tensor x) => FloatUnary(Lax.Acos, x);
    public static Tensor Arctan(Tensor x) => FloatUnary(Lax.Atan, x);
    public static Tensor Sinh(Tensor x) => FloatUnary(Lax.Sinh, x);
    public static Tensor Cosh(Tensor x) => FloatUnary(Lax.Cosh, x);
    public static Tensor Tanh(Tensor x) => FloatUnary(Lax.Tanh, x);
    public static Tensor Arcsinh(Tensor x) => FloatUnary(Lax.Asinh, x);
    public static Tensor Arccosh(Tensor x) => FloatUnary(Lax.Acosh, x);
    public static Tensor Arctanh(Tensor x) => FloatUnary(Lax.Atanh, x);
    public static Tensor Floor(Tensor x) => x.DType.IsFloating() ? Lax.Floor(x) : x;
    public static Tensor Ceil(Tensor x) => x.DType.IsFloating() ? Lax.Ceil(x) : x;
    /// <summary>Rounds to <paramref name="decimals"/> places, halves to even (as numpy.round).</summary>
    public static Tensor Round(Tensor x, int decimals = 0)
    {
        if (!x.DType.IsFloating()) return x;
        if (decimals == 0) return Lax.Round(x, 1);
        var f = Full(x.Shape, Math.Pow(10, decimals), x.DType);
        return Lax.Div(Lax.Round(Lax.Mul(x, f), 1), f);
    }
    public static Tensor Trunc(Tensor x) => x.DType.IsFloating() ? Lax.Select(Lax.Lt(x, ZerosLike(x)), Lax.Ceil(x), Lax.Floor(x)) : x;
    public static Tensor IsFinite(Tensor x) => x.DType.IsFloating() ? Lax.IsFinite(x) : Full(x.Shape, true);
    public static Tensor IsNan(Tensor x) => x.DType.IsFloating() ? Lax.Ne(x, x) : Full(x.Shape, false);
    public static Tensor IsInf(Tensor x) => x.DType.IsFloating() ? Lax.And(Lax.Not(Lax.IsFinite(x)), Lax.Eq(x, x)) : Full(x.Shape, false);

    // ----- comparison and logic -----
    public static Tensor Equal(Tensor a, Tensor b) => Binary(Lax.Eq, a, b);
    public static Tensor NotEqual(Tensor a, Tensor b) => Binary(Lax.Ne, a, b);
    public static Tensor Less(Tensor a, Tensor b) => Binary(Lax.Lt, a, b);
    public static Tensor LessEqual(Tensor a, Tensor b) => Binary(Lax.Le, a, b);
    public static Tensor Greater(Tensor a, Tensor b) => Binary(Lax.Gt, a, b);
    public static Tensor GreaterEqual(Tensor a, Tensor b) => Binary(Lax.Ge, a, b);
    public static Tensor LogicalAnd(Tensor a, Tensor b) => Binary(Lax.And, AsBool(a), AsBool(b));
    public static Tensor LogicalOr(Tensor a, Tensor b) => Binary(Lax.Or, AsBool(a), AsBool(b));
    public static Tensor LogicalXor(Tensor a, Tensor b) => Binary(Lax.Xor, AsBool(a), AsBool(b));
    public static Tensor LogicalNot(Tensor x) => Lax.Not(AsBool(x));
    public static Tensor BitwiseAnd(Tensor a, Tensor b) => Binary(Lax.And, a, b);
    public static Tensor BitwiseOr(Tensor a, Tensor b) => Binary(Lax.Or, a, b);
    public static Tensor BitwiseXor(Tensor a, Tensor b) => Binary(Lax.Xor, a, b);
    public static Tensor BitwiseNot(Tensor x) => Lax.Not(x);
    private static Tensor AsBool(Tensor x) => x.DType == DType.Bool ? x : Lax.Ne(x, ZerosLike(x));

    /// <summary>Elementwise choice: x where condition is true, else y (broadcast together).</summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        var p = PromoteDTypes(x, y);
        var b = BroadcastArraysFor("Np.Where", AsBool(condition), p[0], p[1]);
        return Lax.Select(b[0], b[1], b[2]);
    }

    public static Tensor Clip(Tensor x, Tensor? min = null, Tensor? max = null)
    {
        if (min is not null) x = Maximum(x, min);
        if (max is not null) x = Minimum(x, max);
        return x;
    }

    /// <summary>True when every element of a and b are close: |a − b| ≤ atol + rtol·|b| (NaN equal only if equalNan).</summary>
    public static bool AllClose(Tensor a, Tensor b, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false)
    {
        var (x, y) = (a.Concrete("AllClose"), b.Concrete("AllClose"));
        var shape = BroadcastShapes(x.Shape, y.Shape);
        var xd = BroadcastTo(x, shape).ToDoubleArray();
        var yd = BroadcastTo(y, shape).ToDoubleArray();
        for (int i = 0; i < xd.Length; i++)
        {
            if (double.IsNaN(xd[i]) || double.IsNaN(yd[i])) { if (!(equalNan && double.IsNaN(xd[i]) && double.IsNaN(yd[i]))) return false; continue; }
            if (double.IsInfinity(xd[i]) || double.IsInfinity(yd[i])) { if (xd[i] != yd[i]) return false; continue; }
            if (Math.Abs(xd[i] - yd[i]) > atol + rtol * Math.Abs(yd[i])) return false;
        }
        return true;
    }

    /// <summary>Elementwise closeness, as a bool tensor.</summary>
    public static Tensor IsClose(Tensor a, Tensor b, double rtol = 1e-5, double atol = 1e-8)
    {
        var p = Prepare(ToFloat(a), ToFloat(b));
        var tol = Add(Full(p[1].Shape, atol, p[1].DType), Multiply(Full(p[1].Shape, rtol, p[1].DType), Abs(p[1])));
        return LessEqual(Abs(Subtract(p[0], p[1])), tol);
    }

    public static bool ArrayEqual(Tensor a, Tensor b) => a.Shape == b.Shape && All(Equal(a, b)).Item<bool>();
}
