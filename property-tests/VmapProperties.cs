using static Jx.Transforms;
using static Jx.PropertyTests.VmapRun;

namespace Jx.PropertyTests;

/// <summary>Vmap ≡ the loop: for every primitive family, random programs, nested Vmaps, gradients inside and around
/// Vmap, and collectives over named axes. Every case is decoded from an FsCheck-generated genome (see VmapCases.cs),
/// so failures shrink and print the genome, the decoded case and the data.</summary>
public class VmapProperties
{
    private static VmapArg A(Shape s, VmapData d, string kind = "") => new(s, d, kind);
    private static Tensor[] One(Tensor t) => [t];

    // =====================================================================================================
    // 1. Primitive families
    // =====================================================================================================

    private static readonly (string Name, Func<Tensor, Tensor> F, VmapData Data, bool Exact)[] Unary =
    [
        ("negative", Np.Negative, VmapFill.Real(), true), ("abs", Np.Abs, VmapFill.Real(), true), ("sign", Np.Sign, VmapFill.IntF64(), true),
        ("floor", Np.Floor, VmapFill.Real(-5, 5), true), ("ceil", Np.Ceil, VmapFill.Real(-5, 5), true), ("round", x => Np.Round(x), VmapFill.Real(-5, 5), true),
        ("round(1)", x => Np.Round(x, 1), VmapFill.Real(-5, 5), false), ("trunc", Np.Trunc, VmapFill.Real(-5, 5), true),
        ("exp", Np.Exp, VmapFill.Real(), false), ("exp2", Np.Exp2, VmapFill.Real(), false), ("expm1", Np.Expm1, VmapFill.Real(), false),
        ("log", Np.Log, VmapFill.Real(0.1, 5), false), ("log1p", Np.Log1p, VmapFill.Real(-0.9, 3), false), ("log2", Np.Log2, VmapFill.Real(0.1, 5), false),
        ("log10", Np.Log10, VmapFill.Real(0.1, 5), false), ("sqrt", Np.Sqrt, VmapFill.Real(0, 5), false), ("rsqrt", Np.Rsqrt, VmapFill.Real(0.1, 5), false),
        ("cbrt", Np.Cbrt, VmapFill.Real(-5, 5), false), ("sin", Np.Sin, VmapFill.Real(-4, 4), false), ("cos", Np.Cos, VmapFill.Real(-4, 4), false),
        ("tan", Np.Tan, VmapFill.Real(-1.2, 1.2), false), ("arcsin", Np.Arcsin, VmapFill.Real(-1, 1), false), ("arccos", Np.Arccos, VmapFill.Real(-1, 1), false),
        ("arctan", Np.Arctan, VmapFill.Real(-4, 4), false), ("sinh", Np.Sinh, VmapFill.Real(), false), ("cosh", Np.Cosh, VmapFill.Real(), false),
        ("tanh", Np.Tanh, VmapFill.Real(), false), ("arcsinh", Np.Arcsinh, VmapFill.Real(-4, 4), false), ("arccosh", Np.Arccosh, VmapFill.Real(1, 5), false),
        ("arctanh", Np.Arctanh, VmapFill.Real(-0.99, 0.99), false), ("sigmoid", Nn.Sigmoid, VmapFill.Real(-5, 5), false), ("erf", Lax.Erf, VmapFill.Real(), false),
        ("erfc", Lax.Erfc, VmapFill.Real(), false), ("erf_inv", Lax.ErfInv, VmapFill.Real(-0.99, 0.99), false), ("lgamma", Lax.Lgamma, VmapFill.Real(0.1, 6), false),
        ("digamma", Lax.Digamma, VmapFill.Real(0.1, 6), false), ("isfinite", Np.IsFinite, VmapFill.Real(), true), ("square", Np.Square, VmapFill.Real(), false),
        ("integer_pow 3", x => Lax.IntegerPow(x, 3), VmapFill.Real(), false), ("reciprocal", Np.Reciprocal, VmapFill.NonZero(), false),
        ("relu (custom_jvp)", Nn.Relu, VmapFill.Real(), true), ("softplus (custom_jvp)", Nn.Softplus, VmapFill.Real(-5, 5), false), ("gelu", x => Nn.Gelu(x), VmapFill.Real(), false),
        ("stop_gradient", Lax.StopGradient, VmapFill.Real(), true), ("x * 2.5 + 1 (weak scalars)", x => x * 2.5 + 1, VmapFill.Real(), false),
        ("negative i32", Np.Negative, VmapFill.I32(), true), ("abs i32", Np.Abs, VmapFill.I32(), true), ("sign i32", Np.Sign, VmapFill.I32(), true),
        ("bitwise_not i32", Np.BitwiseNot, VmapFill.I32(), true), ("square i32", Np.Square, VmapFill.I32(), true), ("logical_not", Np.LogicalNot, VmapFill.Bool(), true),
        ("not bool", Lax.Not, VmapFill.Bool(), true), ("sin f32", Np.Sin, VmapFill.F32(), false),
        ("exp f16", Np.Exp, (r, s) => VmapFill.Real()(r, s).AsType(DType.Float16), false), ("tanh bf16", Np.Tanh, (r, s) => VmapFill.Real()(r, s).AsType(DType.BFloat16), false),
        ("negative i64", Np.Negative, VmapFill.Of(DType.Int64), true), ("abs u32", Np.Abs, VmapFill.Of(DType.UInt32), true),
        ("abs special", Np.Abs, VmapFill.Special(), true), ("sign special", Np.Sign, VmapFill.Special(), true), ("isnan special", Np.IsNan, VmapFill.Special(), true),
        ("isinf special", Np.IsInf, VmapFill.Special(), true), ("floor special", Np.Floor, VmapFill.Special(), true), ("exp special", Np.Exp, VmapFill.Special(), false),
    ];

    [Fact]
    public void ElementwiseUnaryEqualsLoop() => ForAll(1500, c => ElementwiseUnaryCases(c, op => CheckOp(c, op)));

    private static void ElementwiseUnaryCases(VmapDecoder c, Action<VmapOp> check)
    {
        var (name, f, data, exact) = c.Pick(Unary);
        var s = RandShape(c, 0, 3);
        // float32 kernels may round differently for different lengths (vector lanes vs the scalar tail): 1e-6 there;
        // half precision: 1e-2.
        double tol = name.EndsWith("f32") ? 1e-6 : name.EndsWith("f16") ? 1e-2 : Tol;
        check(new VmapOp($"{name} of {s}", [A(s, data)], xs => One(f(xs[0])), exact, tol));
    }

    private static readonly (string Name, Func<Tensor, Tensor, Tensor> F, VmapData A, VmapData B, bool Exact, bool SameShape)[] Binary =
    [
        ("add", Np.Add, VmapFill.Real(), VmapFill.Real(), false, false), ("subtract", Np.Subtract, VmapFill.Real(), VmapFill.Real(), false, false),
        ("multiply", Np.Multiply, VmapFill.Real(), VmapFill.Real(), false, false), ("divide", Np.Divide, VmapFill.Real(), VmapFill.NonZero(), false, false),
        ("power", Np.Power, VmapFill.Real(0.1, 3), VmapFill.Real(), false, false), ("maximum", Np.Maximum, VmapFill.IntF64(), VmapFill.IntF64(), true, false),
        ("minimum", Np.Minimum, VmapFill.IntF64(), VmapFill.IntF64(), true, false), ("arctan2", Np.Arctan2, VmapFill.Real(), VmapFill.Real(), false, false),
        ("remainder", Np.Remainder, VmapFill.Real(-5, 5), VmapFill.NonZero(), false, false), ("floor_divide", Np.FloorDivide, VmapFill.Real(-5, 5), VmapFill.NonZero(), false, false),
        ("fmod", Np.Fmod, VmapFill.Real(-5, 5), VmapFill.NonZero(), false, false), ("nextafter", Np.NextAfter, VmapFill.IntF64(), VmapFill.IntF64(), true, false),
        ("equal", Np.Equal, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false), ("not_equal", Np.NotEqual, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false),
        ("less", Np.Less, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false), ("less_equal", Np.LessEqual, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false),
        ("greater", Np.Greater, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false), ("greater_equal", Np.GreaterEqual, VmapFill.IntF64(-1, 1), VmapFill.IntF64(-1, 1), true, false),
        ("logical_and", Np.LogicalAnd, VmapFill.Bool(), VmapFill.Bool(), true, false), ("logical_or", Np.LogicalOr, VmapFill.Bool(), VmapFill.Bool(), true, false),
        ("logical_xor", Np.LogicalXor, VmapFill.Bool(), VmapFill.Bool(), true, false),
        ("add i32", Np.Add, VmapFill.I32(), VmapFill.I32(), true, false), ("multiply i32", Np.Multiply, VmapFill.I32(), VmapFill.I32(), true, false),
        ("maximum i32", Np.Maximum, VmapFill.I32(), VmapFill.I32(), true, false), ("floor_divide i32", Np.FloorDivide, VmapFill.I32(), VmapFill.NonZeroI32(), true, false),
        ("remainder i32", Np.Remainder, VmapFill.I32(), VmapFill.NonZeroI32(), true, false), ("bitwise_and i32", Np.BitwiseAnd, VmapFill.I32(), VmapFill.I32(), true, false),
        ("bitwise_or i32", Np.BitwiseOr, VmapFill.I32(), VmapFill.I32(), true, false), ("bitwise_xor i32", Np.BitwiseXor, VmapFill.I32(), VmapFill.I32(), true, false),
        ("add i32 + f64 (promotion)", Np.Add, VmapFill.I32(), VmapFill.Real(), false, false),
        ("lax.shift_left", Lax.ShiftLeft, VmapFill.I32(-100, 100), VmapFill.I32(0, 31), true, true),
        ("lax.shift_right_logical", Lax.ShiftRightLogical, VmapFill.I32(-100, 100), VmapFill.I32(0, 31), true, true),
        ("lax.shift_right_arithmetic", Lax.ShiftRightArithmetic, VmapFill.I32(-100, 100), VmapFill.I32(0, 31), true, true),
        ("lax.rem", Lax.Rem, VmapFill.Real(-5, 5), VmapFill.NonZero(), false, true), ("lax.pow", Lax.Pow, VmapFill.Real(0.1, 3), VmapFill.Real(), false, true),
        ("lax.atan2", Lax.Atan2, VmapFill.Real(), VmapFill.Real(), false, true), ("lax.max", Lax.Max, VmapFill.Real(), VmapFill.Real(), true, true),
        ("add i64", Np.Add, VmapFill.Of(DType.Int64), VmapFill.Of(DType.Int64), true, false), ("multiply u32", Np.Multiply, VmapFill.Of(DType.UInt32), VmapFill.Of(DType.UInt32), true, false),
        ("add f16 + f32 (promotion)", Np.Add, VmapFill.Of(DType.Float16), VmapFill.Of(DType.Float32), true, false),
        ("maximum special", Np.Maximum, VmapFill.Special(), VmapFill.Special(), true, false), ("minimum special", Np.Minimum, VmapFill.Special(), VmapFill.Special(), true, false),
        ("add special", Np.Add, VmapFill.Special(), VmapFill.Special(), true, false), ("less special", Np.Less, VmapFill.Special(), VmapFill.Special(), true, false),
        ("equal special", Np.Equal, VmapFill.Special(), VmapFill.Special(), true, false),
    ];

    [Fact]
    public void ElementwiseBinaryWithBroadcastingEqualsLoop() => ForAll(1500, c => ElementwiseBinaryWithBroadcastingCases(c, op => CheckOp(c, op)));

    private static void ElementwiseBinaryWithBroadcastingCases(VmapDecoder c, Action<VmapOp> check)
    {
        var (name, f, da, db, exact, same) = c.Pick(Binary);
        var result = RandShape(c, 0, 3);
        var (sa, sb) = same ? (result, result) : (BroadcastOperand(c, result), BroadcastOperand(c, result));
        if (!same && c.Bool()) (sa, sb) = (sb, sa);
        check(new VmapOp($"{name} of {sa} and {sb}", [A(sa, da), A(sb, db)], xs => One(f(xs[0], xs[1])), exact));
    }

    [Fact]
    public void SelectNEqualsLoop() => ForAll(1000, c => SelectNCases(c, op => CheckOp(c, op)));

    private static void SelectNCases(VmapDecoder c, Action<VmapOp> check)
    {
        var result = RandShape(c, 0, 3);
        switch (c.Int(4))
        {
            case 0:
            {
                var (sc, sx, sy) = (BroadcastOperand(c, result), BroadcastOperand(c, result), BroadcastOperand(c, result));
                check(new VmapOp($"Np.Where(cond {sc}, x {sx}, y {sy})", [A(sc, VmapFill.Bool()), A(sx, VmapFill.IntF64()), A(sy, VmapFill.IntF64())],
                    xs => One(Np.Where(xs[0], xs[1], xs[2])), true));
                break;
            }
            case 1:
            {
                var sp = c.Bool() ? Shape.Scalar : result;
                check(new VmapOp($"Lax.Select(pred {sp}, {result}, {result})", [A(sp, VmapFill.Bool()), A(result, VmapFill.I32()), A(result, VmapFill.I32())],
                    xs => One(Lax.Select(xs[0], xs[1], xs[2])), true));
                break;
            }
            case 2:
            {
                var sw = c.Bool() ? Shape.Scalar : result;
                check(new VmapOp($"Lax.SelectN(which {sw} in [0, 3), three cases {result})",
                    [A(sw, VmapFill.I32(0, 2)), A(result, VmapFill.IntF64()), A(result, VmapFill.IntF64()), A(result, VmapFill.IntF64())],
                    xs => One(Lax.SelectN(xs[0], xs[1], xs[2], xs[3])), true));
                break;
            }
            default:
                check(new VmapOp($"Np.Where(x > 0, x, 0) of {result}", [A(result, VmapFill.Real())], xs => One(Np.Where(xs[0] > 0, xs[0], 0.0)), true));
                break;
        }
    }

    [Fact]
    public void ClampEqualsLoop() => ForAll(800, c => ClampCases(c, op => CheckOp(c, op)));

    private static void ClampCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 0, 3);
        if (c.Bool())
        {
            var (slo, shi) = (c.Bool() ? Shape.Scalar : s, c.Bool() ? Shape.Scalar : s);
            check(new VmapOp($"Lax.Clamp(lo {slo}, x {s}, hi {shi})", [A(slo, VmapFill.IntF64(-3, 0)), A(s, VmapFill.IntF64()), A(shi, VmapFill.IntF64(0, 3))],
                xs => One(Lax.Clamp(xs[0], xs[1], xs[2])), true));
        }
        else
        {
            var (slo, shi) = (BroadcastOperand(c, s), BroadcastOperand(c, s));
            int which = c.Int(3); // both bounds, only lo, only hi
            check(new VmapOp($"Np.Clip(x {s}, lo {(which == 2 ? "null" : slo)}, hi {(which == 1 ? "null" : shi)})",
                [A(s, VmapFill.Real()), A(slo, VmapFill.Real(-2, 0)), A(shi, VmapFill.Real(0, 2))],
                xs => One(Np.Clip(xs[0], which == 2 ? null : xs[1], which == 1 ? null : xs[2])), true));
        }
    }

    private static readonly DType[] ConvertTypes = [DType.Float64, DType.Float32, DType.Int32, DType.Int64, DType.UInt32, DType.Bool];

    [Fact]
    public void ConvertElementTypeEqualsLoop() => ForAll(800, c => ConvertElementTypeCases(c, op => CheckOp(c, op)));

    private static void ConvertElementTypeCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 0, 3);
        if (c.OneIn(4))
        {
            var (from, to) = c.Pick(new[] { (DType.Float32, DType.Int32), (DType.Int32, DType.Float32), (DType.Float32, DType.UInt32), (DType.UInt32, DType.Int32) });
            check(new VmapOp($"bitcast_convert_type {from.Name()} -> {to.Name()} of {s}", [A(s, (r, sh) => VmapFill.Real(-9, 9)(r, sh).AsType(from))],
                xs => One(Lax.BitcastConvertType(xs[0], to)), true));
            return;
        }
        var (f, t) = (c.Pick(ConvertTypes), c.Pick(ConvertTypes));
        VmapData data = f == DType.Float64 ? VmapFill.Real(-50, 50) : f == DType.Float32 ? (r, sh) => VmapFill.Real(-50, 50)(r, sh).AsType(DType.Float32) : VmapFill.Of(f);
        check(new VmapOp($"convert_element_type {f.Name()} -> {t.Name()} of {s}", [A(s, data)], xs => One(Lax.ConvertElementType(xs[0], t)), true));
    }

    [Fact]
    public void ReductionsWithRandomAxesEqualLoop() => ForAll(1500, c => ReductionsWithRandomAxesCases(c, op => CheckOp(c, op)));

    private static void ReductionsWithRandomAxesCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 0, 4);
        int r = s.Rank;
        int[]? axes = c.OneIn(4) ? null : Axes(c, r);
        bool keep = c.Bool();
        string ax = axes is null ? "null" : Str(axes);
        int? axis = r == 0 || c.OneIn(4) ? null : Neg(c, c.Int(r), r);
        VmapOp op = c.Int(16) switch
        {
            0 => new($"Np.Sum(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.Real())], xs => One(Np.Sum(xs[0], axes, keep))),
            1 => new($"Np.Prod(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.Real(0.5, 1.5))], xs => One(Np.Prod(xs[0], axes, keep))),
            2 => new($"Np.Max(axes {ax}, keepDims {keep}) of {s} (NaN, ±inf)", [A(s, VmapFill.Special())], xs => One(Np.Max(xs[0], axes, keep)), true),
            3 => new($"Np.Min(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.IntF64())], xs => One(Np.Min(xs[0], axes, keep)), true),
            4 => new($"Np.Mean(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.Real())], xs => One(Np.Mean(xs[0], axes, keep))),
            5 => new($"Np.Var(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.Real())], xs => One(Np.Var(xs[0], axes, keep))),
            6 => new($"Np.Std(axes {ax}, keepDims {keep}, ddof 0) of {s}", [A(s, VmapFill.Real())], xs => One(Np.Std(xs[0], axes, keep))),
            7 => new($"Np.All(axes {ax}, keepDims {keep}) of bool {s}", [A(s, VmapFill.Bool())], xs => One(Np.All(xs[0], axes, keep)), true),
            8 => new($"Np.Any(axes {ax}, keepDims {keep}) of bool {s}", [A(s, VmapFill.Bool())], xs => One(Np.Any(xs[0], axes, keep)), true),
            9 => new($"Nn.LogSumExp(axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.Real())], xs => One(Nn.LogSumExp(xs[0], axes, keep))),
            10 => new($"Np.Argmax(axis {Str(axis)}, keepDims {keep && axis is not null}) of {s} (ties, NaN, ±inf)", [A(s, VmapFill.Special())],
                xs => One(Np.Argmax(xs[0], axis, keep && axis is not null)), true),
            11 => new($"Np.Argmin(axis {Str(axis)}, keepDims {keep && axis is not null}) of {s} (ties)", [A(s, VmapFill.IntF64(-1, 1))],
                xs => One(Np.Argmin(xs[0], axis, keep && axis is not null)), true),
            12 => new($"Np.Sum i32 (axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.I32())], xs => One(Np.Sum(xs[0], axes, keep)), true),
            13 => new($"Np.Max i32 (axes {ax}, keepDims {keep}) of {s}", [A(s, VmapFill.I32())], xs => One(Np.Max(xs[0], axes, keep)), true),
            14 => new($"Lax.ArgMax(axis {Pos(axis, r)}, int64 indices) of {s}", [A(s, VmapFill.IntF64(-1, 1))],
                xs => One(r == 0 ? xs[0] : Lax.ArgMax(xs[0], Pos(axis, r), DType.Int64)), true),
            _ => new($"Lax reduce_and/or/prod/min on axes {Str(PosAxes(axes, r))} of {s}", [A(s, VmapFill.IntF64(-2, 2))], xs =>
            {
                var a = PosAxes(axes, r);
                var b = Lax.Gt(xs[0], Np.ZerosLike(xs[0]));
                return [Lax.ReduceAnd(b, a), Lax.ReduceOr(b, a), Lax.ReduceProd(xs[0], a), Lax.ReduceMin(xs[0], a)];
            }, true),
        };
        check(op);
    }

    private static int Pos(int? axis, int rank) => axis is int a ? (a < 0 ? a + rank : a) : 0;
    private static int[] PosAxes(int[]? axes, int rank) => axes is null ? Enumerable.Range(0, rank).ToArray() : axes.Select(a => a < 0 ? a + rank : a).Distinct().Order().ToArray();

    [Fact]
    public void CumulativeOpsEqualLoop() => ForAll(1000, c => CumulativeOpsCases(c, op => CheckOp(c, op)));

    private static void CumulativeOpsCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 1, 3);
        int r = s.Rank;
        int ax = c.Int(r);
        int? axis = c.OneIn(4) ? null : Neg(c, ax, r);
        bool rev = c.Bool();
        VmapOp op = c.Int(8) switch
        {
            0 => new($"Np.Cumsum(axis {Str(axis)}) of {s}", [A(s, VmapFill.Real())], xs => One(Np.Cumsum(xs[0], axis))),
            1 => new($"Np.Cumprod(axis {Str(axis)}) of {s}", [A(s, VmapFill.Real(0.5, 1.5))], xs => One(Np.Cumprod(xs[0], axis))),
            2 => new($"Np.CumMax(axis {Str(axis ?? ax)}) of {s}", [A(s, VmapFill.IntF64())], xs => One(Np.CumMax(xs[0], axis ?? ax)), true),
            3 => new($"Np.Cumsum i32 (axis {Str(axis)}) of {s}", [A(s, VmapFill.I32())], xs => One(Np.Cumsum(xs[0], axis)), true),
            4 => new($"Lax.Cumsum(axis {ax}, reverse {rev}) of {s}", [A(s, VmapFill.Real())], xs => One(Lax.Cumsum(xs[0], ax, rev))),
            5 => new($"Lax.Cumprod(axis {ax}, reverse {rev}) of {s}", [A(s, VmapFill.Real(0.5, 1.5))], xs => One(Lax.Cumprod(xs[0], ax, rev))),
            6 => new($"Lax.Cummax(axis {ax}, reverse {rev}) of {s}", [A(s, VmapFill.IntF64())], xs => One(Lax.Cummax(xs[0], ax, rev)), true),
            _ => new($"Lax.Cummin(axis {ax}, reverse {rev}) of i32 {s}", [A(s, VmapFill.I32())], xs => One(Lax.Cummin(xs[0], ax, rev)), true),
        };
        check(op);
    }

    [Fact]
    public void ShapeOpsEqualLoop() => ForAll(2000, c => ShapeOpsCases(c, op => CheckOp(c, op)));

    private static void ShapeOpsCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 0, 3);
        int r = s.Rank;
        var x = A(s, VmapFill.IntF64(-9, 9));
        switch (c.Int(12))
        {
            case 0: // broadcast_in_dim through BroadcastTo: new leading dims, size-1 dims expanded
            {
                var src = new Shape(s.Select(d => c.OneIn(3) ? 1 : d).ToArray());
                var target = new Shape([.. Enumerable.Range(0, c.Int(3)).Select(_ => c.Range(1, 3)), .. s]);
                check(new VmapOp($"Np.BroadcastTo({src} -> {target})", [A(src, VmapFill.IntF64())], xs => One(Np.BroadcastTo(xs[0], target)), true));
                break;
            }
            case 1: // lax.broadcast_in_dim with random (increasing) broadcast dimensions
            {
                int outRank = r + c.Int(3);
                var dims = Enumerable.Range(0, outRank).OrderBy(_ => c.Int(100)).Take(r).Order().ToArray();
                var outShape = new int[outRank];
                for (int i = 0; i < outRank; i++) outShape[i] = c.Range(1, 3);
                for (int i = 0; i < r; i++) outShape[dims[i]] = s[i];
                var src = new Shape(s.Select((d, i) => c.OneIn(4) ? 1 : d).ToArray());
                check(new VmapOp($"Lax.BroadcastInDim({src} -> {new Shape(outShape)}, dims {Str(dims)})", [A(src, VmapFill.IntF64())],
                    xs => One(Lax.BroadcastInDim(xs[0], new Shape(outShape), dims)), true));
                break;
            }
            case 2: // reshape to a random factorization, maybe with -1
            {
                var factors = Factor(s.Size).OrderBy(_ => c.Int(100)).ToList();
                var dims = new List<int>();
                foreach (var f in factors) { if (dims.Count > 0 && (c.Bool() || dims.Count >= 5)) dims[^1] *= f; else dims.Add(f); }
                for (int k = 0; k < 2 && c.OneIn(3); k++) dims.Insert(c.Int(dims.Count + 1), 1); // bounded: genes past the end read 0
                if (dims.Count > 0 && c.Bool()) dims[c.Int(dims.Count)] = -1;
                var nd = dims.ToArray();
                check(new VmapOp($"Np.Reshape({s} -> {Str(nd)})", [x], xs => One(Np.Reshape(xs[0], nd)), true));
                break;
            }
            case 3: // transpose / swapaxes / moveaxis
            {
                var perm = Enumerable.Range(0, r).OrderBy(_ => c.Int(100)).ToArray();
                int a = r == 0 ? 0 : Neg(c, c.Int(r), r), b = r == 0 ? 0 : Neg(c, c.Int(r), r);
                switch (r == 0 ? 0 : c.Int(4))
                {
                    case 0: check(new VmapOp($"Np.Transpose({s}, {Str(perm)})", [x], xs => One(Np.Transpose(xs[0], perm)), true)); break;
                    case 1: check(new VmapOp($"Np.Transpose({s}) (reverse)", [x], xs => One(Np.Transpose(xs[0])), true)); break;
                    case 2: check(new VmapOp($"Np.SwapAxes({s}, {a}, {b})", [x], xs => One(Np.SwapAxes(xs[0], a, b)), true)); break;
                    default: check(new VmapOp($"Np.MoveAxis({s}, {a}, {b})", [x], xs => One(Np.MoveAxis(xs[0], a, b)), true)); break;
                }
                break;
            }
            case 4: // squeeze
            {
                var src = new Shape(s.Select(d => c.Bool() ? 1 : d).ToArray());
                var ones = Enumerable.Range(0, r).Where(i => src[i] == 1).ToArray();
                int[]? axes = c.OneIn(3) ? null : ones.Where(_ => c.Bool()).Select(i => Neg(c, i, r)).ToArray();
                check(new VmapOp($"Np.Squeeze({src}, {(axes is null ? "null" : Str(axes))})", [A(src, VmapFill.IntF64())], xs => One(Np.Squeeze(xs[0], axes)), true));
                break;
            }
            case 5: // expand_dims
            {
                int a = Neg(c, c.Int(r + 1), r + 1);
                check(new VmapOp($"Np.ExpandDims({s}, {a})", [x], xs => One(Np.ExpandDims(xs[0], a)), true));
                break;
            }
            case 6: // rev
            {
                int[]? axes = c.OneIn(4) ? null : Axes(c, r);
                check(new VmapOp($"Np.Flip({s}, {(axes is null ? "null" : Str(axes))})", [x], xs => One(Np.Flip(xs[0], axes)), true));
                break;
            }
            case 7: // slice: lax.slice with strides, or C# ranges / stepped / negative-step slices
            {
                if (r == 0) { check(new VmapOp("x[...] of a scalar", [x], xs => One(xs[0][TensorIndex.Ellipsis]), true)); break; }
                var start = s.Select(d => c.Int(d)).ToArray();
                var limit = s.Select((d, i) => c.Range(start[i], d)).ToArray();
                var strides = s.Select(_ => c.Range(1, 2)).ToArray();
                if (c.Bool())
                {
                    check(new VmapOp($"Lax.Slice({s}, start {Str(start)}, limit {Str(limit)}, strides {Str(strides)})", [x],
                        xs => One(Lax.Slice(xs[0], start, limit, strides)), true));
                }
                else
                {
                    var items = s.Select((d, i) =>
                    {
                        switch (c.Int(4))
                        {
                            case 0: return ((TensorIndex)start[i], $"{start[i]}");
                            case 1: return ((TensorIndex)(start[i]..limit[i]), $"{start[i]}..{limit[i]}");
                            case 2: int? from = c.Bool() ? null : start[i] - d; return (TensorIndex.Slice(from, null, strides[i]), $"Slice({Str(from)}, null, {strides[i]})");
                            default: return (TensorIndex.Slice(null, null, -strides[i]), $"Slice(null, null, {-strides[i]})");
                        }
                    }).ToArray();
                    var idx = items.Select(t => t.Item1).ToArray();
                    check(new VmapOp($"x[{string.Join(", ", items.Select(t => t.Item2))}] of {s}", [x], xs => One(xs[0][idx]), true));
                }
                break;
            }
            case 8: // pad with (maybe batched) padding value, negative low/high and interior padding
            {
                var cfg = s.Select(d =>
                {
                    int interior = c.Int(3);
                    int full = d + interior * (d - 1);
                    int lo = c.Range(-1, 2), hi = c.Range(-1, 2);
                    if (full + lo + hi < 0) (lo, hi) = (0, 0);
                    return (lo, hi, interior);
                }).ToArray();
                if (c.Bool())
                    check(new VmapOp($"Lax.Pad({s}, value, {string.Join(" ", cfg)})", [x, A(Shape.Scalar, VmapFill.IntF64(10, 20))],
                        xs => One(Lax.Pad(xs[0], xs[1], cfg)), true));
                else
                {
                    var widths = s.Select(_ => (c.Int(3), c.Int(3))).ToArray();
                    check(new VmapOp($"Np.Pad({s}, {string.Join(" ", widths)}, 7)", [x], xs => One(Np.Pad(xs[0], widths, 7)), true));
                }
                break;
            }
            case 9: // concatenate / stack of 2-3 arrays
            {
                int n = c.Range(2, 3);
                if (r == 0 || c.OneIn(3))
                {
                    int a = Neg(c, c.Int(r + 1), r + 1);
                    check(new VmapOp($"Np.Stack({n} x {s}, axis {a})", Enumerable.Repeat(x, n).ToArray(), xs => One(Np.Stack(xs, a)), true));
                    break;
                }
                int ax = c.Int(r);
                var shapes = Enumerable.Range(0, n).Select(_ => new Shape(s.Select((d, i) => i == ax ? c.Range(1, 3) : d).ToArray())).ToArray();
                int axn = Neg(c, ax, r);
                bool mixed = c.OneIn(3); // one int32 operand: promotion
                check(new VmapOp($"Np.Concatenate({string.Join(", ", shapes.Select(q => q.ToString()))}, axis {axn}){(mixed ? " with an i32 operand" : "")}",
                    shapes.Select((q, i) => A(q, mixed && i == 0 ? VmapFill.I32() : VmapFill.IntF64())).ToArray(), xs => One(Np.Concatenate(xs, axn)), true));
                break;
            }
            case 10: // tile / repeat / split (several outputs)
            {
                if (r == 0) { check(new VmapOp($"Np.Tile(scalar, 3)", [x], xs => One(Np.Tile(xs[0], 3)), true)); break; }
                int ax = c.Int(r);
                switch (c.Int(3))
                {
                    case 0:
                        var reps = Enumerable.Range(0, c.Range(1, r + 1)).Select(_ => c.Range(1, 2)).ToArray(); // up to rank 4 (was BUG 5)
                        check(new VmapOp($"Np.Tile({s}, {Str(reps)})", [x], xs => One(Np.Tile(xs[0], reps)), true));
                        break;
                    case 1:
                        int rep = c.Range(1, 3);
                        int? rax = c.OneIn(3) ? null : Neg(c, ax, r);
                        check(new VmapOp($"Np.Repeat({s}, {rep}, axis {Str(rax)})", [x], xs => One(Np.Repeat(xs[0], rep, rax)), true));
                        break;
                    default:
                        var cut = new[] { c.Int(s[ax] + 1) };
                        int axn = Neg(c, ax, r);
                        check(new VmapOp($"Np.Split({s}, at {Str(cut)}, axis {axn})", [x], xs => Np.Split(xs[0], cut, axn), true));
                        break;
                }
                break;
            }
            default: // a composition of shape ops on one tensor
            {
                var s2 = RandShape(c, 2, 3);
                check(new VmapOp($"transpose+reshape+slice+expand of {s2}", [A(s2, VmapFill.IntF64())],
                    xs => One(Np.ExpandDims(Np.Ravel(Np.Transpose(xs[0]))[1..], 0)), true));
                break;
            }
        }
    }

    private static List<int> Factor(int n)
    {
        var f = new List<int>();
        for (int p = 2; n > 1; p++) while (n % p == 0) { f.Add(p); n /= p; }
        return f;
    }

    [Fact]
    public void IotaBasedOpsEqualLoop() => ForAll(800, c => IotaBasedOpsCases(c, op => CheckOp(c, op)));

    private static void IotaBasedOpsCases(VmapDecoder c, Action<VmapOp> check)
    {
        int n = c.Range(1, 4), m = c.Range(1, 4);
        int k = c.Range(-2, 2);
        VmapOp op = c.Int(6) switch
        {
            0 => new($"Np.Triu(({n}, {m}), k {k})", [A(new Shape(n, m), VmapFill.IntF64())], xs => One(Np.Triu(xs[0], k)), true),
            1 => new($"Np.Tril(({c.Range(1, 2)}, {n}, {m}) batch of matrices, k {k})", [A(new Shape(2, n, m), VmapFill.IntF64())], xs => One(Np.Tril(xs[0], k)), true),
            2 => new($"Nn.OneHot(i32 ({n},), {m + 1})", [A(new Shape(n), VmapFill.I32(-1, m + 1))], xs => One(Nn.OneHot(xs[0], m + 1)), true),
            3 => new($"x * Np.Arange({n}) + Np.Eye({n})", [A(new Shape(n, n), VmapFill.IntF64())], xs => One(xs[0] * Np.Arange(n) + Np.Eye(n, dtype: DType.Float64)), true),
            4 => new($"x + Lax.BroadcastedIota(({n}, {m}), dim {k & 1})", [A(new Shape(n, m), VmapFill.I32())],
                xs => One(xs[0] + Lax.BroadcastedIota(DType.Int32, new Shape(n, m), k & 1)), true),
            _ => new($"Np.Trace of ({n}, {n})", [A(new Shape(n, n), VmapFill.IntF64())], xs => One(Np.Trace(xs[0])), true),
        };
        check(op);
    }

    [Fact]
    public void GatherEqualsLoop() => ForAll(2000, c => GatherCases(c, op => CheckOp(c, op)));

    private static void GatherCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 1, 3);
        int r = s.Rank, n0 = s[0];
        var x = A(s, VmapFill.IntF64(-9, 9));
        var ishape = RandShape(c, 0, 2);
        VmapArg Idx(int n) => A(ishape, VmapFill.I32(-n - 1, n), "indices");
        if (c.OneIn(4)) { check(RandomGather(c)); return; }
        switch (c.Int(10))
        {
            case 0:
            {
                int? axis = c.OneIn(4) ? null : Neg(c, c.Int(r), r);
                int n = axis is int a ? s[a < 0 ? a + r : a] : s.Size;
                check(new VmapOp($"Np.Take({s}, idx {ishape}, axis {Str(axis)}) (out of range: fill)", [x, Idx(n)], xs => One(Np.Take(xs[0], xs[1], axis)), true));
                break;
            }
            case 1:
                check(new VmapOp($"x[idx] of {s}, idx {ishape} (negative and clipped)", [x, Idx(n0)], xs => One(xs[0][xs[1]]), true));
                break;
            case 2:
            {
                if (r < 2) goto case 1;
                var ishape2 = BroadcastOperand(c, ishape);
                check(new VmapOp($"x[i, j] of {s}, i {ishape}, j {ishape2}", [x, Idx(n0), A(ishape2, VmapFill.I32(-s[1], s[1] - 1))],
                    xs => One(xs[0][xs[1], xs[2]]), true));
                break;
            }
            case 3:
                check(new VmapOp($"x[..., idx] of {s}, idx {ishape}", [x, Idx(s[r - 1])], xs => One(xs[0][TensorIndex.Ellipsis, xs[1]]), true));
                break;
            case 4:
            {
                if (r < 2) goto case 1;
                check(new VmapOp($"x[idx, 1..] of {s}, idx {ishape}", [x, Idx(n0)], xs => One(xs[0][xs[1], 1..]), true));
                break;
            }
            case 5:
            {
                if (r < 3) goto case 3;
                check(new VmapOp($"x[i, :, j] (non-adjacent index arrays) of {s}, i and j {ishape}", [x, Idx(n0), A(ishape, VmapFill.I32(0, s[2] - 1))],
                    xs => One(xs[0][xs[1], .., xs[2]]), true));
                break;
            }
            case 6:
                check(new VmapOp($"x.At[idx].Get() (fill mode) of {s}, idx {ishape}", [x, Idx(n0)], xs => One(xs[0].At[xs[1]].Get()), true));
                break;
            case 7:
            {
                int ax = c.Int(r);
                var ts = new Shape(s.Select((d, i) => i == ax ? c.Range(1, 3) : (c.OneIn(3) ? 1 : d)).ToArray());
                int axn = Neg(c, ax, r);
                check(new VmapOp($"Np.TakeAlongAxis({s}, idx {ts}, axis {axn})", [x, A(ts, VmapFill.I32(-s[ax], s[ax] - 1))],
                    xs => One(Np.TakeAlongAxis(xs[0], xs[1], axn)), true));
                break;
            }
            case 8:
            {
                // lax.gather of row windows: operand (n, m), indices (k, 1), slices of (1, w).
                int m = c.Range(1, 4), k = c.Range(1, 3), w = c.Range(1, m);
                var mode = c.Bool() ? GatherScatterMode.Clip : GatherScatterMode.FillOrDrop;
                var dn = new GatherDimensionNumbers([1], [0], [0]);
                check(new VmapOp($"Lax.Gather(({n0}, {m}), idx ({k}, 1), windows (1, {w}), {mode})",
                    [A(new Shape(n0, m), VmapFill.IntF64()), A(new Shape(k, 1), VmapFill.I32(-1, n0), "indices")],
                    xs => One(Lax.Gather(xs[0], xs[1], dn, [1, w], mode)), true));
                break;
            }
            default:
                check(new VmapOp($"x[i] with a 0-d int tensor i, of {s}", [x, A(Shape.Scalar, VmapFill.I32(-n0, n0 - 1), "indices")], xs => One(xs[0][xs[1]]), true));
                break;
        }
    }

    [Fact]
    public void ScatterEqualsLoop() => ForAll(2000, c => ScatterCases(c, op => CheckOp(c, op)));

    private static void ScatterCases(VmapDecoder c, Action<VmapOp> check)
    {
        if (c.OneIn(4)) { check(RandomScatter(c)); return; }
        var s = RandShape(c, 1, 2);
        int n = s[0];
        var x = A(s, VmapFill.IntF64(-9, 9));
        int k = c.Range(1, n);
        var idxShape = new Shape(k);
        var rowShape = new Shape([k, .. s.Skip(1)]);
        // updates: a scalar, one row (broadcast over the indices), or one per index
        var uShape = c.Int(3) switch { 0 => Shape.Scalar, 1 => new Shape(s.Skip(1).ToArray()), _ => rowShape };
        var u = A(uShape, VmapFill.IntF64(-9, 9));
        switch (c.Int(8))
        {
            case 0:
                check(new VmapOp($"x.At[idx].Set(u) of {s}, distinct idx {idxShape}, u {uShape}", [x, A(idxShape, VmapFill.DistinctIndices(n), "indices"), u],
                    xs => One(xs[0].At[xs[1]].Set(xs[2])), true));
                break;
            case 1:
                check(new VmapOp($"x.At[idx].Add(u) of {s}, idx {idxShape} (repeats, out of range dropped), u {uShape}",
                    [x, A(idxShape, VmapFill.I32(-n - 1, n), "indices"), u], xs => One(xs[0].At[xs[1]].Add(xs[2])), true));
                break;
            case 2:
                check(new VmapOp($"x.At[idx].Multiply(u) of {s}, idx {idxShape}, u {uShape}",
                    [x, A(idxShape, VmapFill.I32(-n, n - 1), "indices"), u], xs => One(xs[0].At[xs[1]].Multiply(xs[2])), true));
                break;
            case 3:
                check(new VmapOp($"x.At[idx].Min(u) of {s}, idx {idxShape}, u {uShape}",
                    [x, A(idxShape, VmapFill.I32(-n, n - 1), "indices"), u], xs => One(xs[0].At[xs[1]].Min(xs[2])), true));
                break;
            case 4:
                check(new VmapOp($"x.At[idx].Max(u) of i32 {s}, idx {idxShape}, u {uShape}",
                    [A(s, VmapFill.I32()), A(idxShape, VmapFill.I32(-n, n - 1), "indices"), A(uShape, VmapFill.I32())], xs => One(xs[0].At[xs[1]].Max(xs[2])), true));
                break;
            case 5:
            {
                if (s.Rank < 2) goto case 1;
                int m = s[1];
                check(new VmapOp($"x.At[i, j].Add(v) of {s}, i and j {idxShape}, v scalar",
                    [x, A(idxShape, VmapFill.I32(-n, n - 1), "indices"), A(idxShape, VmapFill.I32(-m, m - 1), "indices"), A(Shape.Scalar, VmapFill.IntF64())],
                    xs => One(xs[0].At[xs[1], xs[2]].Add(xs[3])), true));
                break;
            }
            case 6:
            {
                // lax.scatter_add of whole rows: operand (n, m), indices (k, 1), updates (k, m).
                int m = c.Range(1, 3);
                var dn = new ScatterDimensionNumbers([1], [0], [0]);
                check(new VmapOp($"Lax.ScatterAdd(({n}, {m}), idx ({k}, 1), rows ({k}, {m}))",
                    [A(new Shape(n, m), VmapFill.IntF64()), A(new Shape(k, 1), VmapFill.I32(0, n), "indices"), A(new Shape(k, m), VmapFill.IntF64())],
                    xs => One(Lax.ScatterAdd(xs[0], xs[1], xs[2], dn)), true));
                break;
            }
            default:
            {
                // lax.scatter (replace) of whole rows at distinct indices.
                int m = c.Range(1, 3);
                var dn = new ScatterDimensionNumbers([1], [0], [0]);
                check(new VmapOp($"Lax.Scatter(({n}, {m}), distinct idx ({k}, 1), rows ({k}, {m}))",
                    [A(new Shape(n, m), VmapFill.IntF64()), A(new Shape(k, 1), (rr, sh) => Np.Remainder(VmapFill.DistinctIndices(n)(rr, sh), n), "indices"), A(new Shape(k, m), VmapFill.IntF64())],
                    xs => One(Lax.Scatter(xs[0], xs[1], xs[2], dn)), true));
                break;
            }
        }
    }

    /// <summary>lax.gather with random (valid) dimension numbers: operand rank 1-3, a random start_index_map, collapsed
    /// dims, slice sizes, 0-2 index batch dims, offset_dims placed at random, Clip or FillOrDrop.</summary>
    private static VmapOp RandomGather(VmapDecoder c)
    {
        var os = RandShape(c, 1, 3);
        int R = os.Rank, K = c.Range(1, R);
        var sim = Enumerable.Range(0, R).OrderBy(_ => c.Int(100)).Take(K).ToArray();
        var collapsed = Enumerable.Range(0, R).Where(_ => c.Bool()).ToArray();
        var sizes = Enumerable.Range(0, R).Select(i => collapsed.Contains(i) ? 1 : c.Range(1, os[i])).ToArray();
        var batch = RandShape(c, 0, 2);
        int outRank = batch.Rank + R - collapsed.Length;
        var offset = Enumerable.Range(0, outRank).OrderBy(_ => c.Int(100)).Take(R - collapsed.Length).Order().ToArray();
        var mode = c.Bool() ? GatherScatterMode.Clip : GatherScatterMode.FillOrDrop;
        var dn = new GatherDimensionNumbers(offset, collapsed, sim);
        var ishape = new Shape([.. batch, K]);
        return new VmapOp($"Lax.Gather(operand {os}, indices {ishape}, {dn}, slice_sizes {Str(sizes)}, {mode})",
            [A(os, VmapFill.IntF64(-9, 9)), A(ishape, VmapFill.I32(-1, os.Max()), "indices")], xs => One(Lax.Gather(xs[0], xs[1], dn, sizes, mode)), true);
    }

    /// <summary>lax.scatter_add/mul/min/max with random (valid) dimension numbers: operand rank 1-3, random
    /// scatter_dims_to_operand_dims and inserted window dims, window sizes, 0-2 scatter batch dims, update_window_dims
    /// placed at random, FillOrDrop or Clip. (Replace is left out: with repeated indices its order is unspecified.)</summary>
    private static VmapOp RandomScatter(VmapDecoder c)
    {
        var os = RandShape(c, 1, 3);
        int R = os.Rank, K = c.Range(1, R);
        var s2o = Enumerable.Range(0, R).OrderBy(_ => c.Int(100)).Take(K).ToArray();
        var inserted = Enumerable.Range(0, R).Where(_ => c.Bool()).ToArray();
        var windowOperandDims = Enumerable.Range(0, R).Where(i => !inserted.Contains(i)).ToArray();
        var window = windowOperandDims.Select(d => c.Range(1, os[d])).ToArray();
        var batch = RandShape(c, 0, 2);
        int uRank = batch.Rank + window.Length;
        var uwd = Enumerable.Range(0, uRank).OrderBy(_ => c.Int(100)).Take(window.Length).Order().ToArray();
        var ushape = new int[uRank];
        int wi = 0, bi = 0;
        for (int d = 0; d < uRank; d++) ushape[d] = uwd.Contains(d) ? window[wi++] : batch[bi++];
        var mode = c.Bool() ? GatherScatterMode.FillOrDrop : GatherScatterMode.Clip;
        var dn = new ScatterDimensionNumbers(uwd, inserted, s2o);
        var ishape = new Shape([.. batch, K]);
        var (name, f) = c.Pick(new (string, Func<Tensor, Tensor, Tensor, ScatterDimensionNumbers, GatherScatterMode, Tensor>)[]
            { ("ScatterAdd", Lax.ScatterAdd), ("ScatterMul", Lax.ScatterMul), ("ScatterMin", Lax.ScatterMin), ("ScatterMax", Lax.ScatterMax) });
        return new VmapOp($"Lax.{name}(operand {os}, indices {ishape}, updates {new Shape(ushape)}, {dn}, {mode})",
            [A(os, VmapFill.IntF64(-3, 3)), A(ishape, VmapFill.I32(-1, os.Max()), "indices"), A(new Shape(ushape), VmapFill.IntF64(-3, 3))],
            xs => One(f(xs[0], xs[1], xs[2], dn, mode)), true);
    }

    [Fact]
    public void DynamicSliceAndUpdateSliceEqualLoop() => ForAll(1500, c => DynamicSliceAndUpdateSliceCases(c, op => CheckOp(c, op)));

    private static void DynamicSliceAndUpdateSliceCases(VmapDecoder c, Action<VmapOp> check)
    {
        if (c.Bool())
        {
            var s = RandShape(c, 1, 3);
            var sizes = s.Select(d => c.Range(1, d)).ToArray();
            var args = new List<VmapArg> { A(s, VmapFill.IntF64(-9, 9)) };
            args.AddRange(s.Select(d => A(Shape.Scalar, VmapFill.I32(-2, d + 1), "start index")));
            check(new VmapOp($"Lax.DynamicSlice({s}, {s.Rank} scalar starts (clamped), sizes {Str(sizes)})", args.ToArray(),
                xs => One(Lax.DynamicSlice(xs[0], xs[1..], sizes)), true));
        }
        else
        {
            var s = RandShape(c, 1, 2);
            var us = new Shape(s.Select(d => c.Range(1, d)).ToArray());
            var args = new List<VmapArg> { A(s, VmapFill.IntF64(-9, 9)), A(us, VmapFill.IntF64(10, 19)) };
            args.AddRange(s.Select(d => A(Shape.Scalar, VmapFill.I32(-2, d + 1), "start index")));
            check(new VmapOp($"Lax.DynamicUpdateSlice({s}, update {us}, {s.Rank} scalar starts (clamped))", args.ToArray(),
                xs => One(Lax.DynamicUpdateSlice(xs[0], xs[1], xs[2..])), true));
        }
    }

    private static readonly string[] Einsums =
        ["ij,jk->ik", "ij,kj->ik", "bij,bjk->bik", "ij,ij->i", "i,j->ij", "ijk,kj->i", "i,i->", "ij->j", "ij,j->i", "ij,jk->ki", "bi,bj->bij"];

    [Fact]
    public void DotGeneralEqualsLoop() => ForAll(2000, c => DotGeneralCases(c, op => CheckOp(c, op)));

    private static void DotGeneralCases(VmapDecoder c, Action<VmapOp> check)
    {
        int Dim() => c.Range(1, 3);
        switch (c.Int(6))
        {
            case 0: // matmul in every rank combination, with broadcast batch dims
            {
                int m = Dim(), k = Dim(), n = Dim();
                Shape[] lhs = [new(k), new(m, k), new(c.Range(1, 2), m, k), new(1, m, k)];
                Shape[] rhs = [new(k), new(k, n), new(c.Range(1, 2), k, n), new(2, k, n)];
                var (a, b) = (c.Pick(lhs), c.Pick(rhs));
                if (a.Rank == 3 && b.Rank == 3 && a[0] != b[0] && a[0] != 1 && b[0] != 1) a = new Shape(1, m, k);
                check(new VmapOp($"Np.Matmul({a}, {b})", [A(a, VmapFill.Real()), A(b, VmapFill.Real())], xs => One(Np.Matmul(xs[0], xs[1]))));
                break;
            }
            case 1:
            {
                int m = Dim(), k = Dim();
                var (a, b) = (c.Bool() ? new Shape(k) : new Shape(m, k), c.Bool() ? new Shape(k) : new Shape(k, Dim()));
                check(new VmapOp($"Np.Dot({a}, {b})", [A(a, VmapFill.Real()), A(b, VmapFill.Real())], xs => One(Np.Dot(xs[0], xs[1]))));
                break;
            }
            case 2:
            {
                var a = RandShape(c, 1, 2);
                var b = new Shape([.. RandShape(c, 0, 1), a[^1]]);
                switch (c.Int(3))
                {
                    case 0: check(new VmapOp($"Np.Inner({a}, {b})", [A(a, VmapFill.Real()), A(b, VmapFill.Real())], xs => One(Np.Inner(xs[0], xs[1])))); break;
                    case 1: check(new VmapOp($"Np.Outer({a}, {b})", [A(a, VmapFill.Real()), A(b, VmapFill.Real())], xs => One(Np.Outer(xs[0], xs[1])))); break;
                    default: check(new VmapOp($"Np.Vdot({a}, {a})", [A(a, VmapFill.Real()), A(a, VmapFill.Real())], xs => One(Np.Vdot(xs[0], xs[1])))); break;
                }
                break;
            }
            case 3: // einsum
            {
                var spec = c.Pick(Einsums);
                var sizes = new Dictionary<char, int>();
                foreach (var ch in spec.Where(char.IsLetter)) if (!sizes.ContainsKey(ch)) sizes[ch] = Dim();
                var ins = spec.Split("->")[0].Split(',');
                var shapes = ins.Select(t => new Shape(t.Select(ch => sizes[ch]).ToArray())).ToArray();
                check(new VmapOp($"Np.Einsum(\"{spec}\", {string.Join(", ", shapes.Select(q => q.ToString()))})",
                    shapes.Select(q => A(q, VmapFill.Real())).ToArray(), xs => One(Np.Einsum(spec, xs))));
                break;
            }
            case 4: // tensordot
            {
                int k1 = Dim(), k2 = Dim();
                var a = new Shape(Dim(), k1, k2);
                var b = new Shape(k1, k2, Dim());
                check(new VmapOp($"Np.Tensordot({a}, {b}, axes 2)", [A(a, VmapFill.Real()), A(b, VmapFill.Real())], xs => One(Np.Tensordot(xs[0], xs[1], 2))));
                break;
            }
            default: // lax.dot_general with random dimension numbers and axis orders
            {
                int nb = c.Int(2), nc = c.Int(3), fl = c.Int(2), fr = c.Int(2);
                var bd = Enumerable.Range(0, nb).Select(_ => Dim()).ToArray();
                var cd = Enumerable.Range(0, nc).Select(_ => Dim()).ToArray();
                // logical axes: batch, contract, free; then a random permutation of each operand
                var la = bd.Concat(cd).Concat(Enumerable.Range(0, fl).Select(_ => Dim())).ToArray();
                var ra = bd.Concat(cd).Concat(Enumerable.Range(0, fr).Select(_ => Dim())).ToArray();
                var lp = Enumerable.Range(0, la.Length).OrderBy(_ => c.Int(100)).ToArray(); // lp[position] = logical axis
                var rp = Enumerable.Range(0, ra.Length).OrderBy(_ => c.Int(100)).ToArray();
                int PosOf(int[] p, int logical) => Array.IndexOf(p, logical);
                var dn = new DotDimensionNumbers(
                    Enumerable.Range(nb, nc).Select(i => PosOf(lp, i)).ToArray(), Enumerable.Range(nb, nc).Select(i => PosOf(rp, i)).ToArray(),
                    Enumerable.Range(0, nb).Select(i => PosOf(lp, i)).ToArray(), Enumerable.Range(0, nb).Select(i => PosOf(rp, i)).ToArray());
                var ls = new Shape(lp.Select(i => la[i]).ToArray());
                var rs = new Shape(rp.Select(i => ra[i]).ToArray());
                check(new VmapOp($"Np.DotGeneral({ls}, {rs}, contract {Str(dn.LhsContract)}/{Str(dn.RhsContract)}, batch {Str(dn.LhsBatch)}/{Str(dn.RhsBatch)})",
                    [A(ls, VmapFill.Real()), A(rs, VmapFill.Real())], xs => One(Np.DotGeneral(xs[0], xs[1], dn))));
                break;
            }
        }
    }

    [Fact]
    public void SortArgsortTopKEqualLoop() => ForAll(1500, c => SortArgsortTopKCases(c, op => CheckOp(c, op)));

    private static void SortArgsortTopKCases(VmapDecoder c, Action<VmapOp> check)
    {
        var s = RandShape(c, 1, 3);
        int r = s.Rank;
        int ax = c.Int(r);
        int? axis = c.OneIn(5) ? null : Neg(c, ax, r);
        bool desc = c.Bool();
        var x = A(s, c.OneIn(4) ? VmapFill.Special() : VmapFill.IntF64(-2, 2)); // many ties (and NaN, ±inf, -0.0): the stable order must survive batching
        VmapOp op = c.Int(5) switch
        {
            0 => new($"Np.Sort({s}, axis {Str(axis)}, descending {desc})", [x], xs => One(Np.Sort(xs[0], axis, desc)), true),
            1 => new($"Np.Argsort({s}, axis {Str(axis)}, descending {desc}) (ties)", [x], xs => One(Np.Argsort(xs[0], axis, desc)), true),
            2 => new($"Lax.Sort([k1, k2, v] of {s}, dimension {ax}, numKeys 2)", [x, x, A(s, VmapFill.I32())],
                xs => Lax.Sort(xs, ax, numKeys: 2), true),
            3 => new($"Lax.SortKeyVal({s}, i32 values, dimension {Neg(c, ax, r)})", [x, A(s, VmapFill.I32())], xs =>
            {
                var (k, v) = Lax.SortKeyVal(xs[0], xs[1], ax);
                return [k, v];
            }, true),
            _ => new($"Lax.TopK({s}, k {Math.Min(s[^1], 1 + (ax % 3))}) (ties)", [x], xs =>
            {
                var (v, i) = Lax.TopK(xs[0], Math.Min(s[^1], 1 + (ax % 3)));
                return [v, i];
            }, true),
        };
        check(op);
    }

    [Fact]
    public void ConvolutionAndReduceWindowEqualLoop() => ForAll(600, c => ConvGeneralDilatedCases(c, op => CheckOp(c, op)));

    private static void ConvGeneralDilatedCases(VmapDecoder c, Action<VmapOp> check)
    {
        if (c.OneIn(3))
        {
            // reduce_window sum/max/min with windows, strides, padding and dilations
            var xs = RandShape(c, 1, 3, 2, 4);
            int r = xs.Rank;
            var win = xs.Select(d => c.Range(1, Math.Min(d, 3))).ToArray();
            var st = xs.Select(_ => c.Range(1, 2)).ToArray();
            var pad = xs.Select(_ => (c.Range(0, 1), c.Range(0, 1))).ToArray();
            var bdil = xs.Select(_ => c.OneIn(3) ? 2 : 1).ToArray();
            var wdil = xs.Select((d, i) => c.OneIn(3) && 2 * (win[i] - 1) + 1 <= d ? 2 : 1).ToArray();
            var comp = c.Pick(new[] { "sum", "max", "min" });
            check(new VmapOp($"Lax.ReduceWindow({xs}, \"{comp}\", window {Str(win)}, strides {Str(st)}, padding {string.Join(" ", pad)}, base dilation {Str(bdil)}, window dilation {Str(wdil)})",
                [A(xs, VmapFill.IntF64(-9, 9))], a => One(Lax.ReduceWindow(a[0], comp, win, st, pad, bdil, wdil)), true));
            return;
        }
        // conv_general_dilated: 1 or 2 spatial dims, NC.../OI... or channels-last layouts, N of 1-2, feature groups or
        // batch groups, strides, padding, lhs and rhs dilation.
        int sp = c.Range(1, 2);
        bool channelsLast = c.Bool();
        int g = c.Range(1, 2);
        bool batchGroups = g == 1 && c.OneIn(4);
        int n = batchGroups ? 2 : c.Range(1, 2);
        int cin = g * c.Range(1, 2), cout = (batchGroups ? 2 : g) * c.Range(1, 2);
        var spatial = Enumerable.Range(0, sp).Select(_ => c.Range(3, 5)).ToArray();
        var ldil = Enumerable.Range(0, sp).Select(_ => c.OneIn(4) ? 2 : 1).ToArray();
        var rdil = Enumerable.Range(0, sp).Select(_ => c.Range(1, 2)).ToArray();
        var strides = Enumerable.Range(0, sp).Select(_ => c.Range(1, 2)).ToArray();
        var pads = Enumerable.Range(0, sp).Select(_ => (c.Range(0, 1), c.Range(0, 1))).ToArray();
        // kernel taps that fit the dilated, padded input
        var kernel = Enumerable.Range(0, sp).Select(i =>
        {
            int room = (spatial[i] - 1) * ldil[i] + 1 + pads[i].Item1 + pads[i].Item2;
            int k = c.Range(1, 3);
            while (k > 1 && (k - 1) * rdil[i] + 1 > room) k--;
            return k;
        }).ToArray();
        string sps = sp == 1 ? "W" : "HW";
        ConvDimensionNumbers dn = channelsLast ? ($"N{sps}C", $"{sps}IO", $"N{sps}C") : ($"NC{sps}", $"OI{sps}", $"NC{sps}");
        var lhs = channelsLast ? new Shape([n, .. spatial, cin]) : new Shape([n, cin, .. spatial]);
        var rhs = channelsLast ? new Shape([.. kernel, cin / g, cout]) : new Shape([cout, cin / g, .. kernel]);
        check(new VmapOp($"Lax.ConvGeneralDilated({lhs}, {rhs}, {(channelsLast ? "channels last" : "NC.../OI...")}, strides {Str(strides)}, padding {string.Join(" ", pads)}, " +
            $"lhs dilation {Str(ldil)}, rhs dilation {Str(rdil)}, feature groups {g}, batch groups {(batchGroups ? 2 : 1)})",
            [A(lhs, VmapFill.Real()), A(rhs, VmapFill.Real())],
            xs => One(Lax.ConvGeneralDilated(xs[0], xs[1], strides, pads, ldil, rdil, dn, g, batchGroups ? 2 : 1))));
    }

    [Fact]
    public void RandomWithBatchedKeysEqualsLoop() => ForAll(600, c => RandomWithBatchedKeysCases(c, op => CheckOp(c, op)));

    private static void RandomWithBatchedKeysCases(VmapDecoder c, Action<VmapOp> check)
    {
        var key = A(new Shape(2), VmapFill.U32(), "key");
        var s = RandShape(c, 0, 2);
        VmapOp op = c.Int(13) switch
        {
            9 => new($"Random.Randint(key, (3,), minval, maxval) with per-example bounds", [key, A(Shape.Scalar, VmapFill.I32(-5, 0), "bound"), A(Shape.Scalar, VmapFill.I32(1, 9), "bound")],
                xs => One(Random.Randint(xs[0], new Shape(3), xs[1], xs[2])), true),
            10 => new($"Random.TruncatedNormal(key, lower, upper, {s}, float64) with per-example bounds", [key, A(Shape.Scalar, VmapFill.Real(-2, -0.5)), A(Shape.Scalar, VmapFill.Real(0.5, 2))],
                xs => One(Random.TruncatedNormal(xs[0], xs[1], xs[2], s, DType.Float64))),
            // float32 log rounds differently in vector lanes and the scalar tail: 1e-6 (bits, uniform, normal are exact)
            11 => new($"Random.Gumbel(key, {s})", [key], xs => One(Random.Gumbel(xs[0], s)), false, 1e-6),
            12 => new($"Random.Permutation(key, x (4,)) of a per-example x", [key, A(new Shape(4), VmapFill.IntF64())], xs => One(Random.Permutation(xs[0], xs[1])), true),
            0 => new($"Random.Normal(key, {s})", [key], xs => One(Random.Normal(xs[0], s)), true),
            1 => new($"Random.Uniform(key, {s}, float64)", [key], xs => One(Random.Uniform(xs[0], s, DType.Float64)), true),
            2 => new($"Random.Bits(key, {s})", [key], xs => One(Random.Bits(xs[0], s)), true),
            3 => new($"Random.Split(key, 3)", [key], xs => One(Random.Split(xs[0], 3)), true),
            4 => new($"Random.FoldIn(key, data)", [key, A(Shape.Scalar, VmapFill.I32(0, 1000), "data")], xs => One(Random.FoldIn(xs[0], xs[1])), true),
            5 => new($"Random.Uniform(key, {s}, minval, maxval) with per-example bounds", [key, A(Shape.Scalar, VmapFill.Real(-2, 0)), A(Shape.Scalar, VmapFill.Real(1, 2))],
                xs => One(Random.Uniform(xs[0], s, DType.Float64, xs[1], xs[2])), true),
            6 => new($"Random.Bernoulli(key, p, (3,))", [key, A(Shape.Scalar, VmapFill.Real(0, 1))], xs => One(Random.Bernoulli(xs[0], xs[1], new Shape(3))), true),
            7 => new($"Random.Categorical(key, logits (4,))", [key, A(new Shape(4), VmapFill.Real())], xs => One(Random.Categorical(xs[0], xs[1])), true),
            _ => new($"Random.Permutation(key, 5)", [key], xs => One(Random.Permutation(xs[0], 5)), true),
        };
        check(op);
    }

    [Fact]
    public void NormalOfSplitKeysEqualsTheLoopExactly()
    {
        var keys = Random.Split(Random.Key(42), 8);
        var batched = Vmap((Tensor k) => Random.Normal(k, [3]))(keys);
        var loop = Np.Stack(Enumerable.Range(0, 8).Select(i => Random.Normal(keys[i], [3])).ToArray());
        Assert.Equal(new Shape(8, 3), batched.Shape);
        Assert.Equal(loop.ToArray<float>(), batched.ToArray<float>());
        // The same keys laid out along axis 1.
        var cols = Vmap((Tensor k) => Random.Uniform(k, [2], DType.Float64), inAxes: 1, outAxes: 1)(keys.T);
        var loopCols = Np.Stack(Enumerable.Range(0, 8).Select(i => Random.Uniform(keys[i], [2], DType.Float64)).ToArray(), 1);
        Assert.Equal(loopCols.ToArray<double>(), cols.ToArray<double>());
    }

    // =====================================================================================================
    // 2. Random compositions, nested Vmap
    // =====================================================================================================

    private static VmapOp ProgramCase(VmapDecoder c, bool forGrad = false)
    {
        int nIn = c.Range(1, 2);
        var shapes = Enumerable.Range(0, nIn).Select(_ => RandShape(c, 0, 3)).ToArray();
        if (nIn == 2 && c.Bool()) shapes[1] = BroadcastOperand(c, shapes[0]);
        var code = VmapProgram.Decode(c, c.Range(1, 6));
        var text = VmapProgram.Text(code, shapes.Select(s => s.ToArray()).ToArray());
        return new VmapOp($"program on {string.Join(", ", shapes.Select(s => s.ToString()))}:\n    {text}",
            shapes.Select(s => A(s, VmapFill.Real(-1.5, 1.5))).ToArray(), xs => VmapProgram.Run(code, xs));
    }

    [Fact]
    public void RandomProgramsEqualLoop() => ForAll(1200, c => CheckOp(c, ProgramCase(c)), genes: 64);

    [Fact]
    public void NestedVmapOfRandomProgramsEqualsDoubleLoop() => ForAll(800, c => CheckOp(c, ProgramCase(c), depth: 2, maxSize: 3), genes: 64);

    [Fact]
    public void NestedVmapOfPrimitivesEqualsDoubleLoop() => ForAll(800, c =>
    {
        // One op from several families, batched at two levels with different axes.
        var s = RandShape(c, 1, 2);
        VmapOp op = c.Int(5) switch
        {
            0 => new($"Np.Take(x {s}, idx (2,), axis 0)", [A(s, VmapFill.IntF64()), A(new Shape(2), VmapFill.I32(-s[0], s[0] - 1), "indices")], xs => One(Np.Take(xs[0], xs[1], 0)), true),
            1 => new($"x.At[idx].Add(u) of {s}", [A(s, VmapFill.IntF64()), A(new Shape(2), VmapFill.I32(-s[0], s[0] - 1), "indices"), A(Shape.Scalar, VmapFill.IntF64())],
                xs => One(xs[0].At[xs[1]].Add(xs[2])), true),
            2 => new($"Np.Matmul({s}, ({s[^1]}, 2))", [A(s, VmapFill.Real()), A(new Shape(s[^1], 2), VmapFill.Real())], xs => One(Np.Matmul(xs[0], xs[1]))),
            3 => new($"Lax.DynamicSlice({s}, start, size 1)", [A(s, VmapFill.IntF64()), A(Shape.Scalar, VmapFill.I32(-1, s[0]), "indices")],
                xs => One(Lax.DynamicSlice(xs[0], [xs[1], .. Enumerable.Repeat((Tensor)Np.Zeros([], DType.Int32), s.Rank - 1)], [1, .. s.Skip(1)])), true),
            _ => new($"Np.Sort then Np.Cumsum of {s}", [A(s, VmapFill.IntF64())], xs => One(Np.Cumsum(Np.Sort(xs[0], 0), -1)), true),
        };
        CheckOp(c, op, depth: 2, maxSize: 3);
    });

    // =====================================================================================================
    // 3. Vmap and autodiff
    // =====================================================================================================

    /// <summary>A smooth scalar function of (w, x) built from a random program.</summary>
    private static (string Text, Shape W, Shape X, Func<Tensor, Tensor, Tensor> F) ScalarProgram(VmapDecoder c)
    {
        var w = RandShape(c, 1, 2);
        var x = c.Bool() ? w : BroadcastOperand(c, w);
        var code = VmapProgram.Decode(c, c.Range(1, 5));
        var text = VmapProgram.Text(code, [w.ToArray(), x.ToArray()]);
        return ($"sum(tanh(outputs)) of program on w {w}, x {x}:\n    {text}", w, x,
            (wt, xt) => VmapProgram.Run(code, [wt, xt]).Select(o => Np.Sum(Np.Tanh(o))).Aggregate((a, b) => a + b));
    }

    [Fact]
    public void VmapOfGradEqualsPerExampleGradients() => ForAll(600, c =>
    {
        var (text, w, x, f) = ScalarProgram(c);
        var g = Grad<Tensor, Tensor>(f);
        // one or two levels of Vmap around the gradient (w may be batched too: an ensemble of parameters)
        CheckOp(c, new VmapOp("Grad (w.r.t. w) of " + text, [A(w, VmapFill.Real(-1.5, 1.5)), A(x, VmapFill.Real(-1.5, 1.5))], xs => One(g(xs[0], xs[1]))),
            depth: c.Range(1, 2), maxSize: 3);
    }, genes: 64);

    [Fact]
    public void VmapOfGradOfVmappedSumEqualsLoopOfSummedGradients() => ForAll(400, c =>
    {
        // An ensemble: Vmap over parameters w of Grad(w' => Σ_i f(w', x_i)) with the inner Vmap over a batch xs shared by
        // all members (inAxes null outside), against Σ_i Grad(f)(w, x_i) for each w.
        var (text, w, x, f) = ScalarProgram(c);
        int b = c.Range(1, 3), ax = c.Int(x.Rank + 1);
        var g = Grad<Tensor, Tensor>(f);
        Func<Tensor[], Tensor[]> ensemble = a => One(Grad((Tensor wv) => Np.Sum(Vmap((Tensor xv) => f(wv, xv), inAxes: ax)(a[1])))(a[0]));
        Func<Tensor[], Tensor[]> reference = a => One(Enumerable.Range(0, b).Select(i => g(a[0], SliceAt(a[1], ax, i))).Aggregate((p, q) => p + q));
        var xsShape = new Shape([.. x.Take(ax), b, .. x.Skip(ax)]);
        var op = new VmapOp($"Grad(w => Σ Vmap(x => f(w, x), inAxes {ax})(xs)) for xs {xsShape}, of " + text,
            [A(w, VmapFill.Real(-1.5, 1.5)), A(xsShape, VmapFill.Real(-1.5, 1.5))], reference, Tol: 1e-11);
        // CheckOp with the reference loop but the traced ensemble under Vmap: swap F for the Vmap call.
        var levels = Levels(c, [w.Rank, xsShape.Rank], 1, 3);
        int seed = c.Seed();
        var xs = MakeArgs(op.Args, levels, new System.Random(seed));
        string Desc() => Describe(op.Name, levels, xs, seed, c.Genes);
        ResolveOut(levels, w.Rank);
        var expected = Loop((a, _) => reference(a), xs, levels);
        Tensor[] actual;
        try { actual = Nested(ensemble, 2, levels)(xs); }
        catch (Exception e) { throw new VmapCaseFailure($"Vmap threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare(expected, actual, false, Desc, 1e-11);
    }, genes: 64);

    [Fact]
    public void JvpOfVmapEqualsLoopOfJvps() => ForAll(400, c =>
    {
        // Forward mode around Vmap: Jvp(Vmap(program), xs, ts) against the per-example Jvps, stacked.
        var s = RandShape(c, 0, 2);
        var code = VmapProgram.Decode(c, c.Range(1, 5));
        var text = VmapProgram.Text(code, [s.ToArray()]);
        Func<Tensor, Tensor> f = x => VmapProgram.Run(code, [x]).Select(o => Np.Sum(Np.Sin(o))).Aggregate((p, q) => p + q);
        int b = c.Range(1, 4), ax = c.Int(s.Rank + 1), oa = c.Int(1);
        int seed = c.Seed();
        var rng = new System.Random(seed);
        var xs = Stack(Enumerable.Range(0, b).Select(_ => VmapFill.Real(-1.5, 1.5)(rng, s)).ToList(), ax);
        var ts = Stack(Enumerable.Range(0, b).Select(_ => VmapFill.Real()(rng, s)).ToList(), ax);
        string Desc() => $"genome {new VmapGenome(c.Genes)}\ncase: Jvp(Vmap(sum(sin(outputs)) of program, inAxes {ax})) on {s}, batch {b}, seed {seed}:\n    {text}\n  xs {Show(xs)}\n  ts {Show(ts)}";
        var expected = Enumerable.Range(0, b).Select(i => Jvp(f, SliceAt(xs, ax, i), SliceAt(ts, ax, i))).ToList();
        (Tensor Out, Tensor Tangent) actual;
        try { actual = Jvp(Vmap(f, inAxes: ax), xs, ts); }
        catch (Exception e) { throw new VmapCaseFailure($"threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare([Stack(expected.Select(e => e.Out), 0), Stack(expected.Select(e => e.Tangent), 0)], [actual.Out, actual.Tangent], false, Desc);
    }, genes: 64);

    [Fact]
    public void GradOfVmappedSumEqualsSumOfPerExampleGradients() => ForAll(500, c =>
    {
        var (text, w, x, f) = ScalarProgram(c);
        int b = c.Range(1, 4), ax = c.Int(x.Rank + 1);
        int inAx = c.Bool() ? ax - (x.Rank + 1) : ax;
        int seed = c.Seed();
        var rng = new System.Random(seed);
        var wt = VmapFill.Real(-1.5, 1.5)(rng, w);
        var xs = Stack(Enumerable.Range(0, b).Select(_ => VmapFill.Real(-1.5, 1.5)(rng, x)).ToList(), ax);
        string Desc() => $"genome {new VmapGenome(c.Genes)}\ncase: Grad(w => Sum(Vmap(x => f(w, x), inAxes {inAx})(xs))) of {text}\n  batch {b}, seed {seed}\n  w {Show(wt)}\n  xs {Show(xs)}";
        var g = Grad<Tensor, Tensor>(f);
        var expected = Enumerable.Range(0, b).Select(i => g(wt, SliceAt(xs, ax, i))).Aggregate((p, q) => p + q);
        Tensor actual;
        try { actual = Grad((Tensor wv) => Np.Sum(Vmap((Tensor xv) => f(wv, xv), inAxes: inAx)(xs)))(wt); }
        catch (Exception e) { throw new VmapCaseFailure($"threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare([expected], [actual], false, Desc, 1e-11);
    }, genes: 64);

    [Fact]
    public void JacobiansInsideVmapEqualLoop() => ForAll(500, c =>
    {
        var s = RandShape(c, 1, 2, 1, 3);
        var code = VmapProgram.Decode(c, c.Range(1, 4));
        var text = VmapProgram.Text(code, [s.ToArray()]);
        Func<Tensor, Tensor> f = x => Np.Tanh(Np.Ravel(VmapProgram.Run(code, [x])[^1]));
        bool rev = c.Bool();
        var jac = rev ? Jacrev(f) : Jacfwd(f);
        CheckOp(c, new VmapOp($"{(rev ? "Jacrev" : "Jacfwd")} of tanh(ravel(last output)) of program on {s}:\n    {text}", [A(s, VmapFill.Real(-1.5, 1.5))], xs => One(jac(xs[0]))),
            depth: c.Range(1, 2), maxSize: 3);
    }, genes: 64);

    [Fact]
    public void HessianAndJvpInsideVmapEqualLoop() => ForAll(300, c =>
    {
        var (text, w, x, f) = ScalarProgram(c);
        bool hess = c.Bool();
        if (hess)
            CheckOp(c, new VmapOp("Hessian (w.r.t. w) of " + text, [A(w, VmapFill.Real(-1.5, 1.5)), A(x, VmapFill.Real(-1.5, 1.5))],
                xs => One(Hessian(wv => f(wv, xs[1]))(xs[0]))));
        else
            CheckOp(c, new VmapOp("Jvp (w.r.t. w, tangent t) of " + text, [A(w, VmapFill.Real(-1.5, 1.5)), A(x, VmapFill.Real(-1.5, 1.5)), A(w, VmapFill.Real())],
                xs => { var (o, t) = Jvp(wv => f(wv, xs[1]), xs[0], xs[2]); return [o, t]; }));
    }, genes: 64);

    // =====================================================================================================
    // 4. Named axes and collectives
    // =====================================================================================================

    private enum Coll { Psum, Pmean, Pmax, Pmin, AllGather, AxisIndex }

    /// <summary>The per-example map applied before the collective.</summary>
    private static readonly (string Name, Func<Tensor, Tensor> G)[] PreMaps =
        [("x", x => x), ("x * x", x => x * x), ("sum(x, -1)", x => x.Rank == 0 ? x : Np.Sum(x, -1)), ("tanh(x) + 1", x => Np.Tanh(x) + 1)];

    /// <summary>The collective on the concrete values of every member, computed by hand: <paramref name="members"/> are
    /// the values over the named axis (in order), <paramref name="self"/> the caller's position.</summary>
    private static Tensor HandCollective(Coll k, IReadOnlyList<Tensor> members, int self) => k switch
    {
        Coll.Psum => members.Aggregate((a, b) => a + b),
        Coll.Pmean => members.Aggregate((a, b) => a + b) / members.Count,
        Coll.Pmax => members.Aggregate(Np.Maximum),
        Coll.Pmin => members.Aggregate(Np.Minimum),
        Coll.AllGather => Np.Stack(members.ToArray()),
        _ => Tensor.Scalar(self),
    };

    private static Tensor Traced(Coll k, Tensor y, string name) => k switch
    {
        Coll.Psum => Lax.Psum(y, name),
        Coll.Pmean => Lax.Pmean(y, name),
        Coll.Pmax => Lax.Pmax(y, name),
        Coll.Pmin => Lax.Pmin(y, name),
        Coll.AllGather => Lax.AllGather(y, name),
        _ => Lax.AxisIndex(name),
    };

    /// <summary>Collectives over named levels: y = g(x); each c = coll(y) over one of the names; outputs
    /// [c..., x * 2 + z + Σ sum(c)] where z is a second (maybe unbatched) argument.</summary>
    private static void CheckCollective(VmapDecoder c, int depth)
    {
        string[] names = depth == 1 ? ["i"] : ["i", "j"];
        var s = RandShape(c, 0, 2);
        var (gName, g) = c.Pick(PreMaps);
        // one or two collectives, each over one of the names (nested: the outer or the inner one)
        int nColl = c.Range(1, 2);
        var colls = Enumerable.Range(0, nColl).Select(_ => ((Coll)c.Int(6), c.Int(depth))).ToArray();
        var args = new[] { A(s, VmapFill.Real(-2, 2)), A(s, VmapFill.Real(-2, 2)) };
        var levels = Levels(c, [s.Rank, s.Rank], depth, 4, 4, names);
        int seed = c.Seed();
        var xs = MakeArgs(args, levels, new System.Random(seed));
        string caseName = $"y = {gName}; outputs [{string.Join(", ", colls.Select(q => $"{q.Item1}(y, \"{names[q.Item2]}\")"))}, x * 2 + Σ sum(c) + z] for x, z of {s}";
        string Desc() => Describe(caseName, levels, xs, seed, c.Genes);

        Tensor[] TracedF(Tensor[] a)
        {
            var y = g(a[0]);
            var cs = colls.Select(q => Traced(q.Item1, y, names[q.Item2])).ToArray();
            var tail = cs.Aggregate(a[0] * 2 + a[1], (acc, t) => acc + Np.Sum(t).AsType(DType.Float64));
            return [.. cs, tail];
        }

        // Every member's y, by its index at each level, to compute the collectives by hand.
        var ys = new Dictionary<string, Tensor>();
        void Collect(Tensor[] a, int l, int[] idx)
        {
            if (l == levels.Length) { ys[string.Join(",", idx)] = g(a[0]); return; }
            for (int b = 0; b < levels[l].Size; b++) Collect(Member(a, levels[l], b), l + 1, [.. idx, b]);
        }
        Collect(xs, 0, []);
        Tensor[] Reference(Tensor[] a, int[] idx)
        {
            var y = g(a[0]);
            var cs = colls.Select(q =>
            {
                int lvl = q.Item2;
                var members = Enumerable.Range(0, levels[lvl].Size).Select(b => { var j = (int[])idx.Clone(); j[lvl] = b; return ys[string.Join(",", j)]; }).ToList();
                return HandCollective(q.Item1, members, idx[lvl]);
            }).ToArray();
            var tail = cs.Aggregate(a[0] * 2 + a[1], (acc, t) => acc + Np.Sum(t).AsType(DType.Float64));
            return [.. cs, tail];
        }

        ResolveOut(levels, Reference(FirstMember(xs, levels), new int[depth]).Min(t => t.Rank));
        var expected = Loop(Reference, xs, levels);
        Tensor[] actual;
        try { actual = Nested(TracedF, 2, levels)(xs); }
        catch (Exception e) { throw new VmapCaseFailure($"Vmap threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare(expected, actual, false, Desc);
    }

    [Fact]
    public void CollectivesOverANamedAxisEqualHandComputedReductions() => ForAll(1200, c => CheckCollective(c, 1));

    [Fact]
    public void CollectivesOverTwoNestedNamesEqualHandComputedReductions() => ForAll(1000, c => CheckCollective(c, 2));

    [Fact]
    public void PsumOverBothNamesAndCombinedAxisIndex()
    {
        // Vmap over "i" (size 2) of Vmap over "j" (size 3): psum over both names is the total; the index pair is i * 10 + j.
        var x = Np.Arange(6).Reshape(2, 3).AsType(DType.Float64);
        var f = Vmap(Vmap((Tensor v) => Lax.Psum(Lax.Psum(v, "j"), "i") + 0 * v, axisName: "j"), axisName: "i");
        Assert.Equal(Enumerable.Repeat(15.0, 6).ToArray(), f(x).ToArray<double>());
        var idx = Vmap(Vmap((Tensor v) => Lax.AxisIndex("i") * 10 + Lax.AxisIndex("j"), axisName: "j"), axisName: "i")(x);
        Assert.Equal(new[] { 0, 1, 2, 10, 11, 12 }, idx.ToArray<int>());
        // The inner name bound to axis 1 of x: "j" runs over rows' elements, "i" over rows, now placed with outAxes 1.
        var t = Vmap(Vmap((Tensor v) => v - Lax.Pmean(v, "i"), axisName: "i"), inAxes: 1, outAxes: 1, axisName: "j")(x);
        Assert.Equal(new[] { -1.5, -1.5, -1.5, 1.5, 1.5, 1.5 }, t.ToArray<double>());
    }

    // =====================================================================================================
    // 5. Empty batches, pytrees, custom rules
    // =====================================================================================================

    internal static readonly (string Name, Action<VmapDecoder, Action<VmapOp>> Cases)[] Families =
    [
        ("unary", ElementwiseUnaryCases), ("binary", ElementwiseBinaryWithBroadcastingCases), ("select", SelectNCases), ("clamp", ClampCases),
        ("convert", ConvertElementTypeCases), ("reductions", ReductionsWithRandomAxesCases), ("cumulative", CumulativeOpsCases),
        ("shape", ShapeOpsCases), ("iota", IotaBasedOpsCases), ("gather", GatherCases), ("scatter", ScatterCases),
        ("dynamic_slice", DynamicSliceAndUpdateSliceCases), ("dot", DotGeneralCases), ("sort", SortArgsortTopKCases), ("random", RandomWithBatchedKeysCases),
        ("conv", ConvGeneralDilatedCases),
    ];

    [Fact]
    public void EmptyBatchGivesEmptyOutputsOfThePerExampleShapes() => ForAll(1500, c =>
    {
        var (_, cases) = c.Pick(Families);
        cases(c, op => CheckEmpty(c, op));
    });

    [Fact]
    public void ShrunkGenomesAreValidCases()
    {
        // Shrinking drives genes to 0 and genes past the end read 0: the all-zero genome (and an all-max one) must decode
        // to a valid case of every family, and the loops of the decoders must end.
        foreach (var (name, cases) in Families)
            foreach (var genes in new[] { Array.Empty<int>(), Enumerable.Repeat(999, 48).ToArray(), Enumerable.Range(0, 48).ToArray() })
                Replay(genes, c => cases(c, op => CheckOp(c, op)));
    }

    [Fact]
    public void LargerShapesAndBatchesEqualLoop()
    {
        // Dims up to 4x larger and batches up to 9, for the blocked, vectorized and parallel kernel paths.
        int large = 0;
        ForAll(400, c =>
        {
            var (_, cases) = c.Pick(Families);
            Big = 4;
            try { cases(c, op => { if (op.Args.Any(a => a.Shape.Any(d => d > 3))) large++; CheckOp(c, op); }); }
            finally { Big = 0; }
        });
        Assert.True(large > 0, "no case had a dim above 3");
    }

    [Fact]
    public void PytreeArgumentsShareTheirInAxes() => ForAll(600, c =>
    {
        // A (Tensor, Tensor) tuple with one in_axes for both leaves and a Tensor[] output, against the loop.
        var s = RandShape(c, 0, 2);
        var s2 = BroadcastOperand(c, s);
        int b = c.Range(1, 4), ax = c.Int(Math.Min(s.Rank, s2.Rank) + 1);
        int inAx = s.Rank == s2.Rank && c.Bool() ? ax - (s.Rank + 1) : ax; // a negative axis is the same axis only for leaves of one rank
        int seed = c.Seed();
        var rng = new System.Random(seed);
        var p = Stack(Enumerable.Range(0, b).Select(_ => VmapFill.Real()(rng, s)).ToList(), ax);
        var q = Stack(Enumerable.Range(0, b).Select(_ => VmapFill.Real()(rng, s2)).ToList(), ax);
        Func<(Tensor, Tensor), Tensor[]> f = t => [t.Item1 * t.Item2 + 1, Np.Sum(t.Item2)];
        string Desc() => $"genome {new VmapGenome(c.Genes)}\ncase: Vmap over a (Tensor {s}, Tensor {s2}) tuple, inAxes {inAx}, size {b}, seed {seed}";
        var expected = Enumerable.Range(0, 2).Select(j => Stack(Enumerable.Range(0, b).Select(i => f((SliceAt(p, ax, i), SliceAt(q, ax, i)))[j]).ToList(), 0)).ToArray();
        Tensor[] actual;
        try { actual = Vmap(f, inAxes: inAx)((p, q)); }
        catch (Exception e) { throw new VmapCaseFailure($"Vmap threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare(expected, actual, false, Desc);
    });

    private static readonly Func<Tensor, Tensor> SinWithCustomVjp =
        CustomVjp((Tensor x) => Np.Sin(x), x => (Np.Sin(x), x), (Tensor res, Tensor g) => Np.Cos(res) * g, "sin_vjp");
    private static readonly Func<Tensor, Tensor> CubeWithCustomJvp =
        CustomJvp((Tensor x) => x * x * x, (x, t) => (x * x * x, 3 * x * x * t), "cube_jvp");
    private static readonly Func<Tensor, Tensor> Remat = Checkpoint<Tensor, Tensor>(x => Np.Sin(x) * Np.Tanh(x));
    private static readonly Func<Tensor[], Tensor[]> MulSinWithCustomVjp = CustomVjp(
        a => [a[0] * Np.Sin(a[1])],
        a => ([a[0] * Np.Sin(a[1])], [a[0], a[1]]),
        (res, ct) => [ct[0] * Np.Sin(res[1]), ct[0] * res[0] * Np.Cos(res[1])], "mul_sin_vjp");

    [Fact]
    public void CustomJvpCustomVjpAndCheckpointUnderVmapEqualLoop() => ForAll(800, c =>
    {
        var s = RandShape(c, 0, 2);
        var (name, f) = c.Pick(new (string, Func<Tensor, Tensor>)[] { ("custom_vjp sin", SinWithCustomVjp), ("custom_jvp cube", CubeWithCustomJvp), ("checkpoint sin*tanh", Remat) });
        Func<Tensor, Tensor> loss = x => Np.Sum(f(x) * x);
        var s2 = s; // the bwd returns cotangents of the broadcast shape, so both inputs have one shape
        VmapOp op = c.Int(5) switch
        {
            4 => new($"two-input custom_vjp x * sin(y) and its Grad w.r.t. [x, y], x {s}, y {s2}", [A(s, VmapFill.Real()), A(s2, VmapFill.Real())],
                xs => [.. MulSinWithCustomVjp(xs), .. Grad<Tensor[]>(a => Np.Sum(Np.Tanh(MulSinWithCustomVjp(a)[0])))(xs)]),
            0 => new($"{name} of {s}", [A(s, VmapFill.Real())], xs => One(f(xs[0]))),
            1 => new($"Grad(sum({name}(x) * x)) of {s}", [A(s, VmapFill.Real())], xs => One(Grad(loss)(xs[0]))),
            // (forward mode of a custom_vjp function is an error, as in JAX: Jvp uses the custom_jvp and checkpoint ones)
            2 => new($"Jvp({(f == SinWithCustomVjp ? "checkpoint sin*tanh" : name)}) of {s}", [A(s, VmapFill.Real()), A(s, VmapFill.Real())],
                xs => { var (o, t) = Jvp(f == SinWithCustomVjp ? Remat : f, xs[0], xs[1]); return [o, t]; }),
            _ => new($"Grad(x => sum(Vmap({name})(x))) of (2, ...{s})", [A(new Shape([2, .. s]), VmapFill.Real())],
                xs => One(Grad((Tensor x) => Np.Sum(Vmap(f)(x)))(xs[0]))),
        };
        CheckOp(c, op);
    });

    // =====================================================================================================
    // Bugs found by the properties (minimal counterexamples; remove the Skip when fixed)
    // =====================================================================================================

    // Regression test (was BUG 1: a collective over an outer axis name, applied inside an inner Vmap to a value that only the
    // inner Vmap batches, threw UnboundAxisNameError: the pass-through rule of psum/pmax/pmin/all_gather now re-binds through
    // Collectives.BindNamed, which routes it to the trace that defines the name).
    [Fact]
    public void PsumOverAnOuterNameOfAValueOnlyTheInnerVmapBatches()
    {
        // Outer Vmap "i" (size 3, nothing mapped), inner Vmap "j" over x: psum over "i" of a value constant along "i" is 3 * x.
        var x = Np.Array(new double[] { 1, 2 });
        var psum = Vmap(Vmap((Tensor v) => Lax.Psum(v, "i"), axisName: "j"), inAxes: null, axisName: "i", axisSize: 3)(x);
        Assert.Equal(new[] { 3.0, 6, 3, 6, 3, 6 }, psum.ToArray<double>());
        var gathered = Vmap(Vmap((Tensor v) => Lax.AllGather(v, "i"), axisName: "j"), inAxes: null, axisName: "i", axisSize: 2)(x);
        Assert.Equal(new Shape(2, 2, 2), gathered.Shape);
        Assert.Equal(new[] { 1.0, 1, 2, 2, 1, 1, 2, 2 }, gathered.ToArray<double>());
        // pmax/pmin over "i" of a value only "j" batches: constant along "i", so the value itself.
        var pmax = Vmap(Vmap((Tensor v) => Lax.Pmax(v, "i") + Lax.Pmin(v * 2, "i"), axisName: "j"), inAxes: null, axisName: "i", axisSize: 2)(x);
        Assert.Equal(new[] { 3.0, 6, 3, 6 }, pmax.ToArray<double>());
        // The outer axis reached through a Grad between the two Vmaps, and under Jit: d/dv sum(psum(v * v, "i")) = 2 * 3 * v.
        var grads = Vmap(Grad((Tensor w) => Np.Sum(Vmap((Tensor v) => Lax.Psum(v * v, "i"), axisName: "j")(w))), inAxes: null, axisName: "i", axisSize: 3)(x);
        Assert.Equal(new[] { 6.0, 12, 6, 12, 6, 12 }, grads.ToArray<double>());
        var jitted = Jit((Tensor w) => Vmap(Vmap((Tensor v) => Lax.Psum(v, "i"), axisName: "j"), inAxes: null, axisName: "i", axisSize: 3)(w))(x);
        Assert.Equal(new[] { 3.0, 6, 3, 6, 3, 6 }, jitted.ToArray<double>());
        // A value batched by both Vmaps still reduces over "i" only: rows of m summed, for each column j.
        var m = Np.Array(new double[] { 1, 2, 10, 20, 100, 200 }).Reshape(3, 2);
        var both = Vmap(Vmap((Tensor v) => Lax.Psum(v, "i"), axisName: "j"), axisName: "i")(m);
        Assert.Equal(new[] { 111.0, 222, 111, 222, 111, 222 }, both.ToArray<double>());
    }

    // Regression test (was BUG 2: Vmap over an empty batch of a gather whose operand and indices are both batched threw
    // JxIndexError 'gather: slice size 1 does not fit dim 0 of operand shape (0, 3)'; the gather and dynamic_slice rules now
    // special-case an empty batch, as JAX's gather batching rule does).
    [Fact]
    public void EmptyBatchOfGatherWithBatchedOperandAndIndices()
    {
        var x = Np.Zeros([0, 3], DType.Float64);
        var i = Np.Zeros([0], DType.Int32);
        Assert.Equal(new Shape(0), Vmap((Tensor r, Tensor j) => Np.Take(r, j), [0, 0])(x, i).Shape);
        Assert.Equal(new Shape(0, 2), Vmap((Tensor r, Tensor j) => Lax.DynamicSlice(r, [j], [2]), [0, 0])(x, i).Shape);
        // Batched at another dim, with a batched index array and through Jit: still the per-example shape with a leading 0.
        var xt = Np.Zeros([3, 0], DType.Float32);
        var idx = Np.Zeros([0, 2], DType.Int32);
        var taken = Jit((Tensor a, Tensor b) => Vmap((Tensor r, Tensor j) => Np.Take(r, j), [1, 0])(a, b))(xt, idx);
        Assert.Equal(new Shape(0, 2), taken.Shape);
        Assert.Equal(DType.Float32, taken.DType);
        Assert.Equal(new Shape(0, 3), Vmap((Tensor r, Tensor j) => Lax.DynamicUpdateSlice(r, Np.Ones([1], DType.Float64), [j]), [0, 0])(x, i).Shape);
    }

    // Regression test (was BUG 3: Nn.Sigmoid (the logistic kernel) throws ArgumentException 'Input span arguments must not be empty' on an empty array (TensorPrimitives.Sigmoid rejects empty spans; Elementwise.cs), so Vmap over an empty batch of it throws too)
    [Fact]
    public void SigmoidOfAnEmptyArray()
    {
        var e = Tensor.FromArray(new double[0], new Shape(0, 2));
        Assert.Equal(new Shape(0, 2), Nn.Sigmoid(e).Shape);
        Assert.Equal(new Shape(0, 2), Vmap((Tensor x) => Nn.Sigmoid(x))(e).Shape);
    }

    // Regression test (was BUG 4: convert_element_type of an empty splat threw IndexOutOfRangeException).
    [Fact]
    public void ConvertElementTypeOfAnEmptySplat()
    {
        Assert.Equal(new Shape(0, 3), Np.Zeros([0, 3], DType.Float32).AsType(DType.Float64).Shape);
        Assert.Equal(new Shape(0), Vmap((Tensor x) => x.AsType(DType.Int32))(Np.Zeros([0], DType.Float64)).Shape);
    }

    // Regression test (was BUG 5: Np.Tile of a rank-4 array built a rank-8 intermediate, so under Vmap it threw ShapeError
    // 'rank 9 is above Jx's maximum rank 8'; Np.Tile now tiles one axis at a time).
    [Fact]
    public void TileOfARank4ArrayUnderVmap()
    {
        var x = Np.Arange(2).Reshape(2, 1, 1, 1, 1).AsType(DType.Float64);
        Assert.Equal(new Shape(1, 1, 1, 2), Np.Tile(x[0], 2).Shape); // eager: fine
        var t = Vmap((Tensor v) => Np.Tile(v, 2))(x);
        Assert.Equal(new Shape(2, 1, 1, 1, 2), t.Shape);
        Assert.Equal(new[] { 0.0, 0, 1, 1 }, t.ToArray<double>());
        // reps on every axis under two Vmaps: the result has rank 6, no intermediate goes above rank 7.
        var y = Np.Arange(4).Reshape(2, 2, 1, 1, 1, 1).AsType(DType.Float64);
        var u = Vmap(Vmap((Tensor v) => Np.Tile(v, 1, 2, 1, 3)))(y);
        Assert.Equal(new Shape(2, 2, 1, 2, 1, 3), u.Shape);
        Assert.Equal(new[] { 0.0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3 }, u.ToArray<double>());
    }
}
