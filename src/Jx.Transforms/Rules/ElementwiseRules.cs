namespace Jx;

/// <summary>Differentiation rules of the elementwise primitives (JVPs, zero-derivative and non-differentiable
/// declarations, transposes of the linear ones), in one place per primitive family.</summary>
internal static class ElementwiseRules
{
    private static Tensor F(Tensor like, double v) => Np.FullLike(like, v);

    /// <summary>Differentiable with derivative zero everywhere (floor, sign, ...), as jax's defjvp_zero.</summary>
    internal static void DefZero(Primitive p) => Ad.DefJvp(p, (xs, ts, ps) =>
    {
        var outs = p.Bind(xs, ps);
        return (outs, new Tensor?[outs.Length]);
    });

    internal static void Register()
    {
        // ---- linear ----
        Ad.DefLinear(Elementwise.Neg, (ct, ins, p) => [Lax.Neg(ct[0])]);
        Ad.DefJvp(Elementwise.Add, (xs, ts, p) => ([Lax.Add(xs[0], xs[1])], [AddTangents(ts[0], ts[1], xs, negateSecond: false)]));
        Ad.DefTranspose(Elementwise.Add, (ct, ins, p) => [ins[0].IsLinear ? ct[0] : null, ins[1].IsLinear ? ct[0] : null]);
        Ad.DefJvp(Elementwise.Sub, (xs, ts, p) => ([Lax.Sub(xs[0], xs[1])], [AddTangents(ts[0], ts[1], xs, negateSecond: true)]));
        Ad.DefTranspose(Elementwise.Sub, (ct, ins, p) => [ins[0].IsLinear ? ct[0] : null, ins[1].IsLinear ? Lax.Neg(ct[0]) : null]);
        Ad.DefBilinear(Elementwise.Mul, (ct, ins, p) =>
        {
            if (ins[0].IsLinear && ins[1].IsLinear) throw new NotDifferentiableError("transpose of mul with both operands linear (a non-linear function of the tangents)");
            return ins[0].IsLinear ? [Lax.Mul(ct[0], ins[1].Value), null] : [null, Lax.Mul(ins[0].Value, ct[0])];
        });
        Ad.DefJvpPartials(Elementwise.Div,
            (g, ans, x, p) => Lax.Div(g, x[1]),
            (g, ans, x, p) => Lax.Neg(Lax.Div(Lax.Mul(g, ans), x[1])));
        Ad.DefTranspose(Elementwise.Div, (ct, ins, p) =>
        {
            if (ins[1].IsLinear) throw new NotDifferentiableError("transpose of div with a linear denominator (not a linear function)");
            return [Lax.Div(ct[0], ins[1].Value), null];
        });

        // ---- zero derivative ----
        foreach (var p in new[] { Elementwise.Sign, Elementwise.Floor, Elementwise.Ceil, Elementwise.Round })
            DefZero(p);

        // ---- not differentiable (integer/boolean results or bit manipulation) ----
        foreach (var p in new[] { Elementwise.IsFinite, Elementwise.Not, Elementwise.And, Elementwise.Or, Elementwise.Xor,
                     Elementwise.ShiftLeft, Elementwise.ShiftRightLogical, Elementwise.ShiftRightArithmetic,
                     Elementwise.Eq, Elementwise.Ne, Elementwise.Lt, Elementwise.Le, Elementwise.Gt, Elementwise.Ge })
            Ad.DefNonDifferentiable(p, "boolean, integer or bitwise result");
        Ad.DefNonDifferentiable(Elementwise.NextAfter, "piecewise constant in float steps; JAX defines no derivative");
        Ad.DefNonDifferentiable(Conversions.BitcastConvertType, "reinterprets bits");

        // ---- unary ----
        Ad.DefJvpPartials(Elementwise.Abs, (g, ans, x, p) => Lax.Mul(g, Lax.Sign(x[0])));
        Ad.DefJvpPartials(Elementwise.Exp, (g, ans, x, p) => Lax.Mul(g, ans));
        Ad.DefJvpPartials(Elementwise.Exp2, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(ans, F(ans, Math.Log(2)))));
        Ad.DefJvpPartials(Elementwise.Expm1, (g, ans, x, p) => Lax.Mul(g, Lax.Add(ans, F(ans, 1))));
        Ad.DefJvpPartials(Elementwise.Log, (g, ans, x, p) => Lax.Div(g, x[0]));
        Ad.DefJvpPartials(Elementwise.Log1p, (g, ans, x, p) => Lax.Div(g, Lax.Add(x[0], F(x[0], 1))));
        Ad.DefJvpPartials(Elementwise.Sqrt, (g, ans, x, p) => Lax.Mul(g, Lax.Div(F(ans, 0.5), ans)));
        Ad.DefJvpPartials(Elementwise.Rsqrt, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(ans, -0.5), Lax.Div(ans, x[0]))));
        Ad.DefJvpPartials(Elementwise.Cbrt, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(ans, 1.0 / 3), Lax.IntegerPow(ans, -2))));
        Ad.DefJvpPartials(Elementwise.Sin, (g, ans, x, p) => Lax.Mul(g, Lax.Cos(x[0])));
        Ad.DefJvpPartials(Elementwise.Cos, (g, ans, x, p) => Lax.Neg(Lax.Mul(g, Lax.Sin(x[0]))));
        Ad.DefJvpPartials(Elementwise.Tan, (g, ans, x, p) => Lax.Mul(g, Lax.Add(F(ans, 1), Lax.Square(ans))));
        Ad.DefJvpPartials(Elementwise.Asin, (g, ans, x, p) => Lax.Mul(g, Lax.Rsqrt(Lax.Sub(F(x[0], 1), Lax.Square(x[0])))));
        Ad.DefJvpPartials(Elementwise.Acos, (g, ans, x, p) => Lax.Neg(Lax.Mul(g, Lax.Rsqrt(Lax.Sub(F(x[0], 1), Lax.Square(x[0]))))));
        Ad.DefJvpPartials(Elementwise.Atan, (g, ans, x, p) => Lax.Div(g, Lax.Add(F(x[0], 1), Lax.Square(x[0]))));
        Ad.DefJvpPartials(Elementwise.Sinh, (g, ans, x, p) => Lax.Mul(g, Lax.Cosh(x[0])));
        Ad.DefJvpPartials(Elementwise.Cosh, (g, ans, x, p) => Lax.Mul(g, Lax.Sinh(x[0])));
        Ad.DefJvpPartials(Elementwise.Tanh, (g, ans, x, p) => Lax.Mul(g, Lax.Sub(F(ans, 1), Lax.Square(ans))));
        Ad.DefJvpPartials(Elementwise.Asinh, (g, ans, x, p) => Lax.Mul(g, Lax.Rsqrt(Lax.Add(Lax.Square(x[0]), F(x[0], 1)))));
        Ad.DefJvpPartials(Elementwise.Acosh, (g, ans, x, p) => Lax.Mul(g, Lax.Rsqrt(Lax.Mul(Lax.Sub(x[0], F(x[0], 1)), Lax.Add(x[0], F(x[0], 1))))));
        Ad.DefJvpPartials(Elementwise.Atanh, (g, ans, x, p) => Lax.Div(g, Lax.Sub(F(x[0], 1), Lax.Square(x[0]))));
        Ad.DefJvpPartials(Elementwise.Logistic, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(ans, Lax.Sub(F(ans, 1), ans))));
        Ad.DefJvpPartials(Elementwise.Erf, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(x[0], 2 / Math.Sqrt(Math.PI)), Lax.Exp(Lax.Neg(Lax.Square(x[0]))))));
        Ad.DefJvpPartials(Elementwise.Erfc, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(x[0], -2 / Math.Sqrt(Math.PI)), Lax.Exp(Lax.Neg(Lax.Square(x[0]))))));
        Ad.DefJvpPartials(Elementwise.ErfInv, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(ans, Math.Sqrt(Math.PI) / 2), Lax.Exp(Lax.Square(ans)))));
        Ad.DefJvpPartials(Elementwise.Lgamma, (g, ans, x, p) => Lax.Mul(g, Lax.Digamma(x[0])));
        Ad.DefJvpPartials(Elementwise.Digamma, (g, ans, x, p) => Lax.Mul(g, SpecialComposites.Trigamma(x[0])));
        Ad.DefJvpPartials(Elementwise.Square, (g, ans, x, p) => Lax.Mul(g, Lax.Mul(F(x[0], 2), x[0])));
        Ad.DefJvp(Elementwise.IntegerPow, (xs, ts, p) =>
        {
            int y = p.Int("y");
            var ans = Elementwise.IntegerPow.Bind1(xs, p);
            if (ts[0] is not Tensor g || y == 0) return ([ans], [null]);
            var d = y == 1 ? F(xs[0], 1) : Lax.Mul(F(xs[0], y), Lax.IntegerPow(xs[0], y - 1));
            return ([ans], [Lax.Mul(g, d)]);
        });

        // ---- binary ----
        Ad.DefJvpPartials(Elementwise.Rem,
            (g, ans, x, p) => g,
            (g, ans, x, p) => Lax.Neg(Lax.Mul(g, Lax.Mul(Lax.Sign(Lax.Div(x[0], x[1])), Lax.Floor(Lax.Abs(Lax.Div(x[0], x[1])))))));
        // pow: d/dx = y·x^(y−1) for float exponents (as JAX); d/dy = log(x)·x^y with log(0) replaced by 0.
        Ad.DefJvpPartials(Elementwise.Pow,
            (g, ans, x, p) => Lax.Mul(g, Lax.Mul(x[1], Lax.Pow(x[0], Lax.Sub(x[1], F(x[1], 1))))),
            (g, ans, x, p) =>
            {
                var safe = Lax.Select(Lax.Eq(x[0], F(x[0], 0)), F(x[0], 1), x[0]);
                return Lax.Mul(g, Lax.Mul(Lax.Log(safe), ans));
            });
        Ad.DefJvpPartials(Elementwise.Max,
            (g, ans, x, p) => Lax.Mul(g, BalancedEq(x[0], ans, x[1])),
            (g, ans, x, p) => Lax.Mul(g, BalancedEq(x[1], ans, x[0])));
        Ad.DefJvpPartials(Elementwise.Min,
            (g, ans, x, p) => Lax.Mul(g, BalancedEq(x[0], ans, x[1])),
            (g, ans, x, p) => Lax.Mul(g, BalancedEq(x[1], ans, x[0])));
        Ad.DefJvpPartials(Elementwise.Atan2,
            (g, ans, x, p) => Lax.Mul(g, Lax.Div(x[1], Lax.Add(Lax.Square(x[0]), Lax.Square(x[1])))),
            (g, ans, x, p) => Lax.Mul(g, Lax.Div(Lax.Neg(x[0]), Lax.Add(Lax.Square(x[0]), Lax.Square(x[1])))));

        // ---- selection and conversion ----
        Ad.DefJvp(Conversions.SelectN, (xs, ts, p) =>
        {
            var ans = Conversions.SelectN.Bind1(xs, p);
            if (ts.Skip(1).All(t => t is null)) return ([ans], [null]);
            var cases = xs.Skip(1).Select((c, i) => ts[i + 1] ?? Ad.ZerosLikeTangent(c)).ToArray();
            return ([ans], [Conversions.SelectN.Bind1([xs[0], .. cases], p)]);
        });
        Ad.DefTranspose(Conversions.SelectN, (ct, ins, p) =>
        {
            if (ins[0].IsLinear) throw new NotDifferentiableError("select_n's predicate cannot be linear");
            var which = ins[0].Value;
            var zeros = Np.Zeros(ct[0].Shape, ct[0].DType);
            var r = new Tensor?[ins.Length];
            for (int i = 1; i < ins.Length; i++)
            {
                if (!ins[i].IsLinear) continue;
                var cases = Enumerable.Range(1, ins.Length - 1).Select(j => j == i ? ct[0] : zeros).ToArray();
                r[i] = Conversions.SelectN.Bind1([which, .. cases], p);
            }
            return r;
        });
        Ad.DefJvp(Conversions.Clamp, (xs, ts, p) =>
        {
            var (lo, x, hi) = (xs[0], xs[1], xs[2]);
            var ans = Conversions.Clamp.Bind1(xs, p);
            var zeros = Np.ZerosLike(x);
            Tensor B(Tensor t) => Np.BroadcastTo(t, x.Shape);
            Tensor? acc = null;
            void Add(Tensor t) => acc = acc is null ? t : Lax.Add(acc, t);
            if (ts[1] is Tensor gx) Add(Lax.Select(Lax.And(Lax.Gt(x, B(lo)), Lax.Lt(x, B(hi))), gx, zeros));
            if (ts[0] is Tensor gl) Add(Lax.Select(Lax.And(Lax.Gt(B(lo), x), Lax.Lt(B(lo), B(hi))), B(gl), zeros));
            if (ts[2] is Tensor gh) Add(Lax.Select(Lax.Lt(B(hi), x), B(gh), zeros));
            return ([ans], [acc]);
        });
        Ad.DefJvp(Conversions.ConvertElementType, (xs, ts, p) =>
        {
            var ans = Conversions.ConvertElementType.Bind1(xs, p);
            if (ts[0] is not Tensor g || !ans.DType.IsFloating() || !xs[0].DType.IsFloating()) return ([ans], [null]);
            return ([ans], [Conversions.ConvertElementType.Bind1([g], p.With("weak_type", false))]);
        });
        Ad.DefTranspose(Conversions.ConvertElementType, (ct, ins, p) => [Lax.ConvertElementType(ct[0], ins[0].Aval.DType)]);
    }

    private static Tensor? AddTangents(Tensor? a, Tensor? b, Tensor[] xs, bool negateSecond)
    {
        if (a is null && b is null) return null;
        if (b is null) return a;
        if (a is null) return negateSecond ? Lax.Neg(b) : b;
        return negateSecond ? Lax.Sub(a, b) : Lax.Add(a, b);
    }

    /// <summary>JAX's _balanced_eq: 1 where x is the result alone, 0.5 where x and y tie, 0 elsewhere.</summary>
    private static Tensor BalancedEq(Tensor x, Tensor z, Tensor y)
    {
        var one = Np.FullLike(x, 1);
        var half = Np.FullLike(x, 0.5);
        var zero = Np.FullLike(x, 0);
        return Lax.Select(Lax.Eq(x, z), Lax.Select(Lax.Eq(y, z), half, one), zero);
    }
}

/// <summary>Special functions written as compositions of primitives, so that they are themselves differentiable.</summary>
internal static class SpecialComposites
{
    /// <summary>ψ₁(x), the trigamma function, for x &gt; 0: recurrence up to x ≥ 6, then the asymptotic series.</summary>
    public static Tensor Trigamma(Tensor x)
    {
        Tensor acc = Np.ZerosLike(x);
        var z = x;
        for (int i = 0; i < 6; i++)
        {
            acc = Lax.Add(acc, Lax.Div(Np.FullLike(z, 1), Lax.Square(z)));
            z = Lax.Add(z, Np.FullLike(z, 1));
        }
        var inv = Lax.Div(Np.FullLike(z, 1), z);
        var inv2 = Lax.Square(inv);
        // 1/z + 1/(2z²) + 1/(6z³) − 1/(30z⁵) + 1/(42z⁷) − 1/(30z⁹)
        var series = Lax.Mul(inv, Lax.Add(Np.FullLike(z, 1), Lax.Mul(inv, Lax.Add(Np.FullLike(z, 0.5),
            Lax.Mul(inv, Lax.Add(Np.FullLike(z, 1.0 / 6), Lax.Mul(inv2, Lax.Add(Np.FullLike(z, -1.0 / 30),
                Lax.Mul(inv2, Lax.Add(Np.FullLike(z, 1.0 / 42), Lax.Mul(inv2, Np.FullLike(z, -1.0 / 30))))))))))));
        return Lax.Add(acc, series);
    }
}
