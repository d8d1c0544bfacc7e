using FsCheck;
using FsCheck.Fluent;

namespace Jx.PropertyTests;

/// <summary>CheckGrads to order 2 in forward and reverse mode (float64) for every differentiable primitive of Jx.Core, on
/// random shapes from JAX's test shapes and random values in each primitive's valid domain.</summary>
public class PrimitiveGradientProperties
{
    private const int CasesPerPrimitive = 6;

    public static TheoryData<string> Names => new(PrimitiveSpecs.All.Select(s => s.Name));

    /// <summary>A few random cases per primitive (shape choice, parameter seed and values all shrink); a failure prints
    /// the primitive, its parameters, the shapes and C# for the input values.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void CheckGradsOrderTwoBothModes(string name)
    {
        var spec = PrimitiveSpecs.ByName[name];
        Prop.ForAll(spec.Arbitrary, c => c.CheckGrads()).Check(PropConfig.Cases(CasesPerPrimitive));
    }

    /// <summary>Differentiable primitives no spec binds, with the reason.</summary>
    private static readonly Dictionary<string, string> NotCovered = new()
    {
        ["stop_gradient"] = "its derivative is zero by definition, which finite differences of the identity cannot confirm",
        ["custom_lin"] = "Jx.Transforms' helper that custom_vjp stages into linearized programs, not a Jx.Core primitive",
        ["remat_lin"] = "Jx.Transforms' helper that checkpoint stages into linearized programs, not a Jx.Core primitive",
        ["psum"] = "collectives are consumed by Vmap's batch trace before staging; their JVPs are tested in tests/VmapTests.GradientsThroughCollectives",
        ["pmax"] = "collectives are consumed by Vmap's batch trace before staging; their JVPs are tested in tests/VmapTests.GradientsThroughCollectives",
        ["pmin"] = "collectives are consumed by Vmap's batch trace before staging; their JVPs are tested in tests/VmapTests.GradientsThroughCollectives",
        ["while"] = "reverse mode through while_loop raises (as JAX), so CheckGrads in both modes does not apply; its JVP is tested in tests/ControlFlowTests.WhileLoopRunsForwardModeAndRefusesReverseMode",
        ["all_gather"] = "collectives are consumed by Vmap's batch trace before staging; their JVPs are tested in tests/VmapTests.GradientsThroughCollectives",
    };

    /// <summary>Every primitive of Jx.Core with a JVP rule is bound by some spec (or listed in NotCovered with a reason).</summary>
    [Fact]
    public void EveryDifferentiablePrimitiveOfJxCoreIsCovered()
    {
        // Staging each spec's shape choices to jaxprs names the primitives the specs bind.
        var bound = new HashSet<string>();
        foreach (var spec in PrimitiveSpecs.All)
        for (int si = 0; si < spec.Shapes.Length; si++)
        for (int seed = 0; seed < 4; seed++)
        {
            // Staging only looks at shapes, so the values can be anything in the domain.
            var c = new OpCase(spec, si, seed, spec.Shapes[si].Select((s, k) => Enumerable.Repeat(spec.DomainOf(k).Anchor, s.Size).ToArray()).ToArray());
            var f = c.Instance.F;
            var jaxpr = Jax.MakeJaxpr((Tensor[] xs) => f(xs))(c.Args).ToString();
            foreach (var line in jaxpr.Split('\n'))
            {
                var eq = line.IndexOf(" = ", StringComparison.Ordinal);
                if (eq < 0) continue;
                var rhs = line[(eq + 3)..].TrimStart();
                var name = new string(rhs.TakeWhile(ch => char.IsLetterOrDigit(ch) || ch == '_' || ch == '-').ToArray());
                if (name.Length > 0) bound.Add(name);
            }
        }
        var differentiable = PrimitiveRegistry.All.Where(p => Ad.Jvps.ContainsKey(p)).Select(p => p.Name).ToArray();
        Assert.True(differentiable.Length > 60, $"only {differentiable.Length} differentiable primitives registered");
        var missing = differentiable.Where(p => !bound.Contains(p) && !NotCovered.ContainsKey(p)).ToArray();
        Assert.True(missing.Length == 0, $"differentiable primitives no spec exercises: {string.Join(", ", missing)}");
    }
}

/// <summary>The operation specs: one per primitive (and per distinct surface that lowers to it).</summary>
public static class PrimitiveSpecs
{
    private static OpInstance I(string p, Func<Tensor[], Tensor> f) => new(p, f);

    private static readonly Func<(Tensor C, Tensor V), Tensor> CheckpointedCell =
        Transforms.Checkpoint<(Tensor C, Tensor V), Tensor>(a => Lax.Sin(a.C) * a.V + Lax.Tanh(a.C));

    private static OpSpec Unary(string name, Func<Tensor, Tensor> f, Domain d, Func<Shape, bool>? shapes = null) => new()
    {
        Name = name, Shapes = TestShapes.Unary(shapes), Domains = [d], Build = _ => I("", xs => f(xs[0])),
    };

    private static OpSpec Binary(string name, Func<Tensor, Tensor, Tensor> f, Domain a, Domain b,
        Func<double, double, bool>? pairwise = null, Shape[][]? shapes = null) => new()
    {
        Name = name, Shapes = shapes ?? TestShapes.Binary, Domains = [a, b], Build = _ => I("", xs => f(xs[0], xs[1])),
        Joint = pairwise is null ? null : (s, v) => TestShapes.BroadcastIndices(s).All(ix => pairwise(v[0][ix[0]], v[1][ix[1]])),
    };

    private static readonly DType F64 = DType.Float64;

    /// <summary>A jitted function: differentiating through its pjit equation.</summary>
    private static readonly Func<Tensor, Tensor> JittedSinTimesX = Transforms.Jit((Tensor t) => Lax.Sin(t) * t);

    public static readonly OpSpec[] All = Build().ToArray();
    public static readonly Dictionary<string, OpSpec> ByName = All.ToDictionary(s => s.Name);

    private static IEnumerable<OpSpec> Build()
    {
        // ---------------- elementwise unary ----------------
        yield return Unary("neg", Lax.Neg, Domain.Real);
        yield return Unary("abs", Lax.Abs, Domain.AwayFromZero);
        yield return Unary("sign", x => Lax.Sign(x) * x, Domain.AwayFromZero);
        yield return Unary("floor", x => Lax.Floor(x) * x, Domain.AwayFromIntegers);
        yield return Unary("ceil", x => Lax.Ceil(x) * x, Domain.AwayFromIntegers);
        yield return Unary("round_away_from_zero", x => Lax.Round(x, 0) * x, Domain.AwayFromIntegers);
        yield return Unary("round_to_even", x => Lax.Round(x, 1) * x, Domain.AwayFromIntegers);
        yield return Unary("exp", Lax.Exp, Domain.Real);
        yield return Unary("exp2", Lax.Exp2, Domain.Real);
        yield return Unary("expm1", Lax.Expm1, Domain.Real);
        yield return Unary("log", Lax.Log, Domain.Positive);
        yield return Unary("log1p", Lax.Log1p, Domain.Log1p);
        yield return Unary("sqrt", Lax.Sqrt, Domain.Positive);
        yield return Unary("rsqrt", Lax.Rsqrt, Domain.Positive);
        yield return Unary("cbrt", Lax.Cbrt, Domain.AwayFromZero);
        yield return Unary("sin", Lax.Sin, Domain.Wide);
        yield return Unary("cos", Lax.Cos, Domain.Wide);
        yield return Unary("tan", Lax.Tan, Domain.Tan);
        yield return Unary("asin", Lax.Asin, Domain.OpenUnit);
        yield return Unary("acos", Lax.Acos, Domain.OpenUnit);
        yield return Unary("atan", Lax.Atan, Domain.Wide);
        yield return Unary("sinh", Lax.Sinh, Domain.Real);
        yield return Unary("cosh", Lax.Cosh, Domain.Real);
        yield return Unary("tanh", Lax.Tanh, Domain.Real);
        yield return Unary("asinh", Lax.Asinh, Domain.Wide);
        yield return Unary("acosh", Lax.Acosh, Domain.AboveOne);
        yield return Unary("atanh", Lax.Atanh, Domain.OpenUnit);
        yield return Unary("logistic", Lax.Logistic, Domain.Wide);
        yield return Unary("erf", Lax.Erf, Domain.Real);
        yield return Unary("erfc", Lax.Erfc, Domain.Real);
        yield return Unary("erf_inv", Lax.ErfInv, Domain.OpenUnit);
        yield return Unary("lgamma", Lax.Lgamma, Domain.Gamma);
        yield return Unary("digamma", Lax.Digamma, Domain.Digamma);
        yield return Unary("square", Lax.Square, Domain.Real);
        yield return new OpSpec
        {
            Name = "integer_pow", Shapes = TestShapes.Unary(), Domains = [Domain.PowerBase],
            Build = p =>
            {
                int y = p.Rng().Next(-3, 5);
                return I($"y={y}", xs => Lax.IntegerPow(xs[0], y));
            },
        };

        // ---------------- elementwise binary (NumPy broadcasting) ----------------
        yield return Binary("add", Np.Add, Domain.Real, Domain.Real);
        yield return Binary("sub", Np.Subtract, Domain.Real, Domain.Real);
        yield return Binary("mul", Np.Multiply, Domain.Real, Domain.Real);
        yield return Binary("div", Np.Divide, Domain.Real, Domain.Divisor);
        // y == 0 exactly is covered by PrimitiveRegressionTests.PowMixedSecondDerivativeAtZeroExponent.
        yield return Binary("pow", Np.Power, Domain.PowBase, new Domain("real, y != 0", -2, 2, 0.5, y => y != 0));
        yield return Binary("max", Np.Maximum, Domain.Real, Domain.Real, (a, b) => Math.Abs(a - b) >= 0.05);
        yield return Binary("min", Np.Minimum, Domain.Real, Domain.Real, (a, b) => Math.Abs(a - b) >= 0.05);
        // atan2(a, b) jumps across the negative b axis and is singular at the origin.
        yield return Binary("atan2", Np.Arctan2, Domain.Real, Domain.Real, (a, b) => a * a + b * b >= 0.25 && !(b < 0 && Math.Abs(a) < 0.3));
        yield return RemSpec("rem", Np.Fmod);
        yield return RemSpec("remainder_python", Np.Remainder);

        // ---------------- select_n, clamp, convert_element_type ----------------
        yield return new OpSpec
        {
            Name = "select_n_where_constant_mask", Shapes = TestShapes.Binary, Domains = [Domain.Real, Domain.Real],
            Build = p =>
            {
                var outShape = Np.BroadcastShapes(p.Shapes);
                var rng = p.Rng();
                var mask = Enumerable.Range(0, outShape.Size).Select(_ => rng.Next(2) == 1).ToArray();
                var m = Tensor.FromArray(mask, outShape);
                return I($"mask={Fmt.Bools(mask, outShape)}", xs => Np.Where(m, xs[0], xs[1]));
            },
        };
        yield return new OpSpec
        {
            Name = "select_n_where_predicate_of_x", Shapes = TestShapes.Binary, Domains = [Domain.AwayFromZero, Domain.Real],
            Build = _ => I("where(x0 > 0, x0*x0, sin(x1))", xs => Np.Where(xs[0] > 0.0, xs[0] * xs[0], Np.Sin(xs[1]))),
        };
        yield return new OpSpec
        {
            Name = "select_n_three_cases",
            Shapes = TestShapes.Jax.Select(s => new[] { s, s, s }).ToArray(), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var which = Enumerable.Range(0, p.Shapes[0].Size).Select(_ => rng.Next(3)).ToArray();
                var w = Tensor.FromArray(which, p.Shapes[0]);
                return I($"which={Fmt.IntTensor(which, p.Shapes[0])}", xs => Lax.SelectN(w, xs[0], xs[1], xs[2]));
            },
        };
        var loDom = new Domain("lo in [-1.5,-0.5]", -1.5, -0.5, -1);
        var hiDom = new Domain("hi in [0.5,1.5]", 0.5, 1.5, 1);
        yield return new OpSpec
        {
            Name = "clamp",
            Shapes = [.. TestShapes.Jax.Select(s => new[] { Shape.Scalar, s, Shape.Scalar }), .. TestShapes.Jax.Skip(1).Select(s => new[] { s, s, s })],
            Domains = [loDom, Domain.Wide, hiDom],
            Joint = (s, v) => TestShapes.BroadcastIndices(s).All(ix => Math.Abs(v[1][ix[1]] - v[0][ix[0]]) >= 0.05 && Math.Abs(v[1][ix[1]] - v[2][ix[2]]) >= 0.05),
            Build = _ => I("clamp(x0, x1, x2)", xs => Lax.Clamp(xs[0], xs[1], xs[2])),
        };
        yield return new OpSpec
        {
            Name = "convert_element_type_weak_strong", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                bool weakFirst = p.Rng().Next(2) == 1;
                return I($"float64 -> float64(weak={weakFirst}) -> square -> float64(weak={!weakFirst})",
                    xs => Lax.ConvertElementType(Lax.Square(Lax.ConvertElementType(xs[0], F64, weakFirst)), F64, !weakFirst));
            },
        };

        // ---------------- reductions over random axes ----------------
        yield return Reduction("reduce_sum", (x, a, k) => Np.Sum(x, a, k), Domain.Real, distinct: false);
        yield return Reduction("reduce_max", (x, a, k) => Np.Max(x, a, k), Domain.Wide, distinct: true);
        yield return Reduction("reduce_min", (x, a, k) => Np.Min(x, a, k), Domain.Wide, distinct: true);
        yield return Reduction("reduce_prod", (x, a, k) => Np.Prod(x, a, k), Domain.Small, distinct: false);
        // Products through exact zeros (one or several per reduced group): the derivative is the product of the others.
        var withZeros = new Func<Shape[], Gen<double[][]>>(s => Gens.All(Enumerable.Range(0, s[0].Size)
            .Select(_ => Gen.Frequency((1, Gen.Constant(0.0)), (2, Domain.Small.Gen)))).Select(v => new[] { v }));
        yield return Reduction("reduce_prod_with_zeros", (x, a, k) => Np.Prod(x, a, k), Domain.Small, distinct: false, withZeros);
        yield return Scan("cumprod_with_zeros", Lax.Cumprod, Domain.Small, distinct: false, withZeros);
        yield return Scan("cumsum", Lax.Cumsum, Domain.Real, distinct: false);
        yield return Scan("sort", (x, axis, rev) => Lax.Sort(x, axis), Domain.Real, distinct: true);
        yield return Unary("pjit", x => JittedSinTimesX(x), Domain.Real);
        yield return Unary("scan", x => x.Rank == 0 ? Lax.Sin(x) * x
            : Lax.Scan((Tensor c, Tensor v) => (Lax.Sin(c) * v + c, c * v), Np.ZerosLike(x[0]), x).Carry, Domain.Real);
        // checkpoint: a checkpointed cell inside a loop body stays an equation (recomputed in the backward scan).
        yield return Unary("checkpoint", x => x.Rank == 0 ? Lax.Sin(x) * x
            : Lax.Scan((Tensor c, Tensor v) => (CheckpointedCell((c, v)), c * v), Np.ZerosLike(x[0]), x).Carry, Domain.Real);
        yield return Unary("cond", x => Lax.Cond(Tensor.Scalar(true), (Tensor v) => Lax.Sin(v) * v, v => Lax.Cos(v), x) +
            Lax.Cond(Tensor.Scalar(false), (Tensor v) => v, v => Lax.Exp(v) * 0.5, x), Domain.Real);
        yield return Scan("top_k", (x, axis, rev) => Lax.TopK(x, Math.Min(2, x.Shape[^1])).Values, Domain.Real, distinct: true);
        foreach (var (name, kind) in new[] { ("reduce_window_sum", "sum"), ("reduce_window_max", "max"), ("reduce_window_min", "min") })
            yield return new OpSpec
            {
                Name = name, Shapes = [[new(5)], [new(4, 5)], [new(2, 4, 3)]], Domains = [Domain.Real],
                Values = kind == "sum" ? null : s => Gens.Distinct(s[0].Size).Select(v => new[] { v }),
                Build = p =>
                {
                    var r = p.Shapes[0].Rank;
                    var window = Enumerable.Repeat(2, r).ToArray();
                    var strides = Enumerable.Range(0, r).Select(i => 1 + (i % 2)).ToArray();
                    var pads = Enumerable.Range(0, r).Select(i => (i % 2, 0)).ToArray();
                    return I($"window={Fmt.Ints(window)} strides={Fmt.Ints(strides)}", xs => Lax.ReduceWindow(xs[0], kind, window, strides, pads));
                },
            };
        yield return new OpSpec
        {
            Name = "conv_general_dilated",
            Shapes = [[new(1, 2, 5), new(3, 2, 2)], [new(2, 1, 4, 4), new(2, 1, 3, 3)], [new(1, 2, 4, 3), new(2, 1, 2, 2)]],
            Domains = [Domain.Real],
            Build = p => p.ShapeIndex switch
            {
                0 => I("1-D, stride 2, padding (1,0)", xs => Lax.ConvGeneralDilated(xs[0], xs[1], [2], [(1, 0)])),
                1 => I("2-D, SAME, rhs dilation 1", xs => Lax.ConvGeneralDilated(xs[0], xs[1], [1, 1], "SAME")),
                _ => I("2-D, feature groups 2, lhs dilation 2", xs => Lax.ConvGeneralDilated(xs[0], xs[1], [1, 1], [(1, 1), (0, 1)], lhsDilation: [2, 1], featureGroupCount: 2)),
            },
        };
        yield return Scan("cumprod", Lax.Cumprod, Domain.Small, distinct: false);
        yield return Scan("cummax", Lax.Cummax, Domain.Wide, distinct: true);
        yield return Scan("cummin", Lax.Cummin, Domain.Wide, distinct: true);

        // ---------------- shape operations ----------------
        yield return new OpSpec
        {
            Name = "broadcast_in_dim", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                var dims = s.Select(d => d == 1 && rng.Next(2) == 1 ? 2 : d).ToList();
                var pos = Enumerable.Range(0, s.Rank).ToList();
                int extra = rng.Next(s.Rank == 0 ? 1 : 0, 3);
                for (int e = 0; e < extra; e++)
                {
                    int at = rng.Next(dims.Count + 1);
                    dims.Insert(at, rng.Next(1, 4));
                    for (int i = 0; i < pos.Count; i++) if (pos[i] >= at) pos[i]++;
                }
                var outShape = new Shape(dims.ToArray());
                var bd = pos.ToArray();
                return I($"shape={TestShapes.Str(outShape)}, broadcast_dimensions={Fmt.Ints(bd)}", xs => Lax.BroadcastInDim(xs[0], outShape, bd));
            },
        };
        yield return new OpSpec
        {
            Name = "reshape", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var ns = Gens.Refactor(p.Rng(), p.Shapes[0].Size);
                return I($"new_sizes={TestShapes.Str(ns)}", xs => Lax.Reshape(xs[0], ns));
            },
        };
        yield return new OpSpec
        {
            Name = "transpose", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var perm = Gens.Permutation(p.Rng(), p.Shapes[0].Rank);
                return I($"permutation={Fmt.Ints(perm)}", xs => Lax.Transpose(xs[0], perm));
            },
        };
        yield return new OpSpec
        {
            Name = "squeeze", Shapes = TestShapes.Unary(s => s.Contains(1)), Domains = [Domain.Real],
            Build = p =>
            {
                var ones = Enumerable.Range(0, p.Shapes[0].Rank).Where(d => p.Shapes[0][d] == 1).ToArray();
                var rng = p.Rng();
                var dims = Gens.Subset(rng, ones.Length, nonEmpty: true).Select(i => ones[i]).ToArray();
                return I($"dimensions={Fmt.Ints(dims)}", xs => Lax.Squeeze(xs[0], dims));
            },
        };
        yield return new OpSpec
        {
            Name = "expand_dims", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                int k = rng.Next(1, 3), outRank = p.Shapes[0].Rank + k;
                var dims = Gens.Permutation(rng, outRank).Take(k).OrderBy(d => d).ToArray();
                return I($"dimensions={Fmt.Ints(dims)}", xs => Lax.ExpandDims(xs[0], dims));
            },
        };
        yield return new OpSpec
        {
            Name = "rev", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var dims = Gens.Subset(p.Rng(), p.Shapes[0].Rank);
                return I($"dimensions={Fmt.Ints(dims)}", xs => Lax.Rev(xs[0], dims));
            },
        };
        yield return new OpSpec
        {
            Name = "slice_static_and_strided", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                var start = s.Select(n => rng.Next(n)).ToArray();
                var limit = s.Select((n, d) => rng.Next(start[d] + 1, n + 1)).ToArray();
                var strides = rng.Next(2) == 1 ? s.Select(_ => rng.Next(1, 3)).ToArray() : null;
                return I($"start={Fmt.Ints(start)}, limit={Fmt.Ints(limit)}, strides={(strides is null ? "null" : Fmt.Ints(strides))}",
                    xs => Lax.Slice(xs[0], start, limit, strides));
            },
        };
        yield return new OpSpec
        {
            Name = "slice_by_indexer_with_negative_steps", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var idx = new TensorIndex[p.Shapes[0].Rank];
                var desc = new string[idx.Length];
                for (int d = 0; d < idx.Length; d++)
                {
                    int n = p.Shapes[0][d];
                    int step = new[] { 1, 2, -1, -2 }[rng.Next(4)];
                    int? a = rng.Next(3) == 0 ? null : rng.Next(-n, n);
                    int? b = rng.Next(3) == 0 ? null : rng.Next(-n, n + 1);
                    idx[d] = TensorIndex.Slice(a, b, step);
                    desc[d] = $"{a}:{b}:{step}";
                }
                return I($"x[{string.Join(", ", desc)}]", xs =>
                {
                    var r = xs[0][idx];
                    // An empty selection has nothing to differentiate; add the sum of x so the output is never empty.
                    return r.Size == 0 ? Np.Sum(xs[0]) : r;
                });
            },
        };
        yield return new OpSpec
        {
            Name = "pad_low_high_interior_negative", Shapes = TestShapes.Jax.Select(s => new[] { s, Shape.Scalar }).ToArray(),
            Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                var cfg = new (int, int, int)[s.Rank];
                for (int d = 0; d < s.Rank; d++)
                {
                    int n = s[d];
                    while (true)
                    {
                        int lo = rng.Next(-1, 3), hi = rng.Next(-1, 3), interior = rng.Next(0, 3);
                        if (n + lo + hi + interior * (n - 1) < 1) continue;
                        cfg[d] = (lo, hi, interior);
                        break;
                    }
                }
                return I($"config=[{string.Join(", ", cfg.Select(c => $"({c.Item1}, {c.Item2}, {c.Item3})"))}], padding value = x1",
                    xs => Lax.Pad(xs[0], xs[1], cfg));
            },
        };
        yield return new OpSpec
        {
            Name = "concatenate",
            Shapes = TestShapes.Jax.Where(s => s.Rank > 0).SelectMany(s => Enumerable.Range(0, s.Rank).Select(a =>
                new[] { s, With(s, a, 2), With(s, a, 1) })).ToArray(),
            Domains = [Domain.Real],
            Build = p =>
            {
                int axis = Enumerable.Range(0, p.Shapes[0].Rank).First(d => p.Shapes[0][d] != p.Shapes[1][d] || p.Shapes[1][d] != p.Shapes[2][d]);
                return I($"dimension={axis}", xs => Lax.Concatenate(xs, axis));
            },
        };

        // ---------------- gather ----------------
        yield return new OpSpec
        {
            Name = "gather_take", Shapes = TestShapes.Unary(), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                int? axis = s.Rank == 0 || rng.Next(4) == 0 ? null : rng.Next(s.Rank);
                int n = axis is int a ? s[a] : s.Size;
                var idxShape = rng.Next(3) == 0 ? new Shape(2, 2) : new Shape(rng.Next(1, 6));
                var idx = Enumerable.Range(0, idxShape.Size).Select(_ => rng.Next(-n, n)).ToArray();
                var it = Tensor.FromArray(idx, idxShape);
                return I($"indices={Fmt.IntTensor(idx, idxShape)}, axis={(axis?.ToString() ?? "null")}", xs => Np.Take(xs[0], it, axis));
            },
        };
        yield return new OpSpec
        {
            Name = "gather_integer_array_indexing", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                int dim = rng.Next(s.Rank);
                // Out-of-range indices clamp (x[...] gathers in clip mode).
                var idx = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => rng.Next(-s[dim], s[dim] + 2)).ToArray();
                var index = Enumerable.Range(0, dim).Select(_ => (TensorIndex)Range.All).Append((TensorIndex)idx).ToArray();
                return I($"x[{string.Concat(Enumerable.Repeat(":, ", dim))}{Fmt.Ints(idx)}]", xs => xs[0][index]);
            },
        };
        yield return new OpSpec
        {
            Name = "gather_two_index_arrays", Shapes = TestShapes.Unary(s => s.Rank >= 2), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                int k = rng.Next(1, 5);
                var i0 = Enumerable.Range(0, k).Select(_ => rng.Next(s[0])).ToArray();
                var i1 = Enumerable.Range(0, k).Select(_ => rng.Next(s[1])).ToArray();
                return I($"x[{Fmt.Ints(i0)}, {Fmt.Ints(i1)}]", xs => xs[0][i0, i1]);
            },
        };
        yield return new OpSpec
        {
            Name = "gather_take_along_axis", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                int axis = rng.Next(s.Rank);
                var ishape = new Shape(s.Select((d, i) => i == axis ? rng.Next(1, 4) : d).ToArray());
                var idx = Enumerable.Range(0, ishape.Size).Select(_ => rng.Next(s[axis])).ToArray();
                var it = Tensor.FromArray(idx, ishape);
                return I($"indices={Fmt.IntTensor(idx, ishape)}, axis={axis}", xs => Np.TakeAlongAxis(xs[0], it, axis));
            },
        };
        yield return new OpSpec
        {
            Name = "gather_windows_clip_mode",
            Shapes = [[new(3, 4)], [new(2, 3, 4)]], Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                // Windows of size (1, w) (or (1, 2, w)) at random starts; starts past the end clamp.
                int k = rng.Next(1, 4);
                var sizes = s.Select((d, i) => i == 0 ? 1 : rng.Next(1, d + 1)).ToArray();
                var starts = Enumerable.Range(0, k * s.Rank).Select(i => rng.Next(0, s[i % s.Rank] + 1)).ToArray();
                var st = Tensor.FromArray(starts, new Shape(k, s.Rank));
                var dn = new GatherDimensionNumbers(Enumerable.Range(1, s.Rank - 1).ToArray(), [0], Enumerable.Range(0, s.Rank).ToArray());
                return I($"start_indices={Fmt.IntTensor(starts, new Shape(k, s.Rank))}, slice_sizes={Fmt.Ints(sizes)}, offset_dims={Fmt.Ints(dn.OffsetDims)}, collapsed=[0], mode=clip",
                    xs => Lax.Gather(xs[0], st, dn, sizes, GatherScatterMode.Clip));
            },
        };

        // ---------------- scatter ----------------
        Shape[][] atShapes =
        [
            [new(3), Shape.Scalar], [new(3), new(5)], [new(3, 4), new(4, 4)], [new(3, 4), Shape.Scalar], [new(3, 4), new(2, 2, 4)],
            [new(2, 3, 4), new(3, 3, 4)], [new(3, 1), new(2, 1)],
        ];
        yield return AtUpdate("scatter_add_at_add", atShapes, (x, i, v) => x.At[i].Add(v));
        yield return AtUpdate("scatter_at_set", atShapes, (x, i, v) => x.At[i].Set(v));
        // scatter-mul is differentiable in the operand only (as JAX without unique indices): the updates are constants.
        yield return new OpSpec
        {
            Name = "scatter_mul_at_multiply", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var x = p.Shapes[0];
                var idx = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => rng.Next(x[0])).ToArray();
                var (u, ut) = Stages.Const(rng, new Shape([idx.Length, .. x.Skip(1)]), -2, 2);
                var it = Tensor.FromArray(idx);
                return I($"x0.At[{Fmt.Ints(idx)}].Multiply({ut})", xs => xs[0].At[it].Multiply(u));
            },
        };
        // scatter-min/max: operand and updates distinct (no ties), both differentiable.
        foreach (var (nm, isMax) in new[] { ("scatter_min_at_min", false), ("scatter_max_at_max", true) })
            yield return new OpSpec
            {
                Name = nm, Shapes = [[new(3), new(4)], [new(3, 4), new(2, 4)], [new(2, 3, 4), new(3, 3, 4)], [new(3, 1), new(5, 1)]],
                Domains = [Domain.Wide],
                Values = s => Gens.Distinct(s[0].Size + s[1].Size).Select(v => new[] { v.Take(s[0].Size).ToArray(), v.Skip(s[0].Size).ToArray() }),
                Joint = (s, v) => v[0].Concat(v[1]).Distinct().Count() == v[0].Length + v[1].Length &&
                                  v[0].Concat(v[1]).OrderBy(a => a).Zip(v[0].Concat(v[1]).OrderBy(a => a).Skip(1)).All(q => q.Second - q.First >= 0.05),
                Build = p =>
                {
                    var rng = p.Rng();
                    var idx = Enumerable.Range(0, p.Shapes[1][0]).Select(_ => rng.Next(p.Shapes[0][0])).ToArray();
                    var it = Tensor.FromArray(idx);
                    return I($"x0.At[{Fmt.Ints(idx)}].{(isMax ? "Max" : "Min")}(x1)", xs => isMax ? xs[0].At[it].Max(xs[1]) : xs[0].At[it].Min(xs[1]));
                },
            };
        yield return new OpSpec
        {
            Name = "scatter_at_range_set_and_add", Shapes = [[new(3), Shape.Scalar], [new(3, 4), new(4)], [new(2, 3, 4), new(3, 4)], [new(3, 4), new(2, 4)]],
            Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                int n = p.Shapes[0][0];
                int len = p.Shapes[1].Rank == p.Shapes[0].Rank ? p.Shapes[1][0] : rng.Next(1, n + 1);
                int start = rng.Next(0, n - len + 1);
                bool add = rng.Next(2) == 1;
                var r = start..(start + len);
                return I($"x0.At[{start}..{start + len}].{(add ? "Add" : "Set")}(x1)", xs => add ? xs[0].At[r].Add(xs[1]) : xs[0].At[r].Set(xs[1]));
            },
        };
        yield return new OpSpec
        {
            Name = "scatter_windows_lax",
            Shapes = [[new(3, 4), new(3, 4)], [new(3, 4), new(5, 4)], [new(2, 3, 4), new(4, 3)]],
            Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var (x, u) = (p.Shapes[0], p.Shapes[1]);
                bool add = rng.Next(2) == 1;
                var mode = rng.Next(2) == 1 ? GatherScatterMode.Clip : GatherScatterMode.FillOrDrop;
                ScatterDimensionNumbers dn;
                int[] idx;
                Shape ishape;
                if (x.Rank == 2)
                {
                    // Rows x[i, :] updated by u[k, :]; indices may be out of range (dropped or clamped by mode).
                    dn = new ScatterDimensionNumbers([1], [0], [0]);
                    ishape = new Shape(u[0], 1);
                    idx = Enumerable.Range(0, u[0]).Select(_ => rng.Next(0, x[0] + 1)).ToArray();
                }
                else
                {
                    // Columns x[i, :, j] updated by u[k, :].
                    dn = new ScatterDimensionNumbers([1], [0, 2], [0, 2]);
                    ishape = new Shape(u[0], 2);
                    idx = Enumerable.Range(0, u[0] * 2).Select(i => rng.Next(0, (i % 2 == 0 ? x[0] : x[2]) + 1)).ToArray();
                }
                var it = Tensor.FromArray(idx, ishape);
                return I($"{(add ? "scatter_add" : "scatter")} indices={Fmt.IntTensor(idx, ishape)}, update_window_dims={Fmt.Ints(dn.UpdateWindowDims)}, inserted_window_dims={Fmt.Ints(dn.InsertedWindowDims)}, mode={mode}",
                    xs => add ? Lax.ScatterAdd(xs[0], it, xs[1], dn, mode) : Lax.Scatter(xs[0], it, xs[1], dn, mode));
            },
        };

        // ---------------- dynamic_slice / dynamic_update_slice ----------------
        yield return new OpSpec
        {
            Name = "dynamic_slice", Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var s = p.Shapes[0];
                var sizes = s.Select(n => rng.Next(1, n + 1)).ToArray();
                // Starts may be out of range: they clamp so that the slice fits.
                var starts = s.Select(n => rng.Next(-1, n + 1)).ToArray();
                return I($"start_indices={Fmt.Ints(starts)}, slice_sizes={Fmt.Ints(sizes)}",
                    xs => Lax.DynamicSlice(xs[0], starts.Select(i => Tensor.Scalar(i)).ToArray(), sizes));
            },
        };
        yield return new OpSpec
        {
            Name = "dynamic_update_slice",
            Shapes = [[new(3), new(2)], [new(3), new(3)], [new(3, 4), new(2, 3)], [new(3, 4), new(3, 1)], [new(3, 4), new(1, 4)], [new(2, 3, 4), new(1, 2, 2)], [new(2, 1, 4), new(2, 1, 1)]],
            Domains = [Domain.Real],
            Build = p =>
            {
                var rng = p.Rng();
                var starts = p.Shapes[0].Select(n => rng.Next(-1, n + 1)).ToArray();
                return I($"start_indices={Fmt.Ints(starts)}", xs => Lax.DynamicUpdateSlice(xs[0], xs[1], starts.Select(i => Tensor.Scalar(i)).ToArray()));
            },
        };

        // ---------------- dot_general ----------------
        yield return new OpSpec
        {
            Name = "dot_general_matmul",
            Shapes = [[new(3), new(3)], [new(3, 4), new(4)], [new(3), new(3, 4)], [new(3, 4), new(4, 2)], [new(2, 3, 4), new(2, 4, 3)],
                [new(2, 3, 4), new(4, 2)], [new(1, 3, 4), new(2, 4, 2)], [new(2, 3, 4), new(4)]],
            Domains = [Domain.Real],
            Build = _ => I("matmul(x0, x1)", xs => Np.Matmul(xs[0], xs[1])),
        };
        (string Spec, Shape A, Shape B)[] einsums =
        [
            ("ij,ij->", new(3, 4), new(3, 4)), ("i,j->ij", new(3), new(4)), ("ij,kj->ik", new(3, 4), new(2, 4)),
            ("bij,bjk->bik", new(2, 3, 4), new(2, 4, 3)), ("bij,bkj->bki", new(2, 3, 4), new(2, 2, 4)), ("ijk,kj->i", new(2, 3, 4), new(4, 3)),
            ("bi,bi->b", new(2, 3), new(2, 3)), ("abc,cbd->dba", new(2, 3, 4), new(4, 3, 2)),
        ];
        yield return new OpSpec
        {
            Name = "dot_general_einsum_batch_dims", Shapes = einsums.Select(e => new[] { e.A, e.B }).ToArray(), Domains = [Domain.Real],
            Build = p => I($"einsum(\"{einsums[p.ShapeIndex].Spec}\")", xs => Np.Einsum(einsums[p.ShapeIndex].Spec, xs[0], xs[1])),
        };
        (DotDimensionNumbers Dn, Shape A, Shape B)[] dots =
        [
            (new([0], [0], [], []), new(3, 4), new(3, 2)),
            (new([0, 1], [1, 0], [], []), new(2, 3), new(3, 2)),
            (new([2], [0], [1], [1]), new(3, 2, 4), new(4, 2, 2)),
            (new([0], [2], [2], [0]), new(3, 1, 2), new(2, 4, 3)),
        ];
        yield return new OpSpec
        {
            Name = "dot_general_explicit_dimension_numbers", Shapes = dots.Select(e => new[] { e.A, e.B }).ToArray(), Domains = [Domain.Real],
            Build = p =>
            {
                var dn = dots[p.ShapeIndex].Dn;
                return I($"contract {Fmt.Ints(dn.LhsContract)}x{Fmt.Ints(dn.RhsContract)}, batch {Fmt.Ints(dn.LhsBatch)}x{Fmt.Ints(dn.RhsBatch)}",
                    xs => Np.DotGeneral(xs[0], xs[1], dn));
            },
        };
    }

    private static Shape With(Shape s, int axis, int size) => new(s.Select((d, i) => i == axis ? size : d).ToArray());

    /// <summary>rem and Python's remainder: x/y kept away from integers (where both jump), |y| ≥ 0.3.</summary>
    private static OpSpec RemSpec(string name, Func<Tensor, Tensor, Tensor> f)
    {
        var divisor = new Domain("|y|>=0.3", -2, 2, 1, v => Math.Abs(v) >= 0.3);
        static bool AwayFromInteger(double x, double y)
        {
            var q = Math.Abs(x / y);
            var frac = q - Math.Floor(q);
            return frac is >= 0.1 and <= 0.9;
        }
        // x has the broadcast shape; y broadcasts into it.
        Shape[][] shapes = [.. TestShapes.Jax.Select(s => new[] { s, s }), [new(2, 3, 4), Shape.Scalar], [new(3, 4), new(1, 4)], [new(3, 4), new(3, 1)], [new(2, 3, 4), new(2, 1, 4)]];
        return new OpSpec
        {
            Name = name, Shapes = shapes, Domains = [new Domain("[-6,6]", -6, 6, 0.5), divisor],
            Joint = (s, v) => TestShapes.BroadcastIndices(s).All(ix => AwayFromInteger(v[0][ix[0]], v[1][ix[1]])),
            Values = s =>
                Gens.Values(divisor, s[1].Size).SelectMany(y =>
                    Gens.All(Enumerable.Range(0, s[0].Size).Select(_ => Gen.Choose(-2, 2).SelectMany(k => Gen.Choose(15, 85).Select(q => k + q / 100.0))))
                        .Select(qs =>
                        {
                            var x = new double[s[0].Size];
                            foreach (var ix in TestShapes.BroadcastIndices(s))
                                x[ix[0]] = Math.Round(y[ix[1]] * qs[ix[0]], 2);
                            return new[] { x, y };
                        })),
            Build = _ => I("", xs => f(xs[0], xs[1])),
        };
    }

    private static OpSpec Reduction(string name, Func<Tensor, int[]?, bool, Tensor> f, Domain d, bool distinct, Func<Shape[], Gen<double[][]>>? values = null) => new()
    {
        Name = name, Shapes = TestShapes.Unary(), Domains = [d],
        Values = distinct ? s => Gens.Distinct(s[0].Size).Select(v => new[] { v }) : values,
        Build = p =>
        {
            var rng = p.Rng();
            int r = p.Shapes[0].Rank;
            int pick = rng.Next((1 << r) + 1);
            int[]? axes = pick == 1 << r ? null : Enumerable.Range(0, r).Where(a => (pick >> a & 1) == 1).ToArray();
            bool keep = rng.Next(2) == 1;
            return I($"axes={(axes is null ? "null (all)" : Fmt.Ints(axes))}, keepDims={keep}", xs => f(xs[0], axes, keep));
        },
    };

    private static OpSpec Scan(string name, Func<Tensor, int, bool, Tensor> f, Domain d, bool distinct, Func<Shape[], Gen<double[][]>>? values = null) => new()
    {
        Name = name, Shapes = TestShapes.Unary(s => s.Rank > 0), Domains = [d],
        Values = distinct ? s => Gens.Distinct(s[0].Size).Select(v => new[] { v }) : values,
        Build = p =>
        {
            var rng = p.Rng();
            int axis = rng.Next(p.Shapes[0].Rank);
            bool reverse = rng.Next(2) == 1;
            return I($"axis={axis}, reverse={reverse}", xs => f(xs[0], axis, reverse));
        },
    };

    /// <summary>x.At[idx].Add/Set(v) along axis 0 with an integer array index (duplicates and an occasional
    /// out-of-range index, which drops its update).</summary>
    private static OpSpec AtUpdate(string name, Shape[][] shapes, Func<Tensor, Tensor, Tensor, Tensor> f) => new()
    {
        Name = name, Shapes = shapes, Domains = [Domain.Real],
        Build = p =>
        {
            var rng = p.Rng();
            var (x, v) = (p.Shapes[0], p.Shapes[1]);
            var ishape = v.Rank == 0 ? new Shape(rng.Next(1, 4)) : new Shape(v.Take(v.Rank - (x.Rank - 1)).ToArray());
            var idx = Enumerable.Range(0, ishape.Size).Select(_ => rng.Next(6) == 0 ? x[0] + 1 : rng.Next(-x[0], x[0])).ToArray();
            var it = Tensor.FromArray(idx, ishape);
            return I($"x0.At[{Fmt.IntTensor(idx, ishape)}](x1)", xs => f(xs[0], it, xs[1]));
        },
    };
}

/// <summary>Minimal reproductions of bugs the properties found in src/, kept as regression tests.</summary>
public class PrimitiveRegressionTests
{
    /// <summary>Was a bug: pow's JVP w.r.t. x used y·x^(y==0 ? 1 : y-1), whose derivative in y at y == 0 is x instead of
    /// 1/x; it now uses y·x^(y-1) for float exponents as JAX does. Found by CheckGradsOrderTwoBothModes("pow").</summary>
    [Fact]
    public void PowMixedSecondDerivativeAtZeroExponent()
    {
        // d/dy d/dx x^y = x^(y-1)·(1 + y·ln x), which is 1/x at y = 0.
        var x = Tensor.Scalar(0.6);
        var dxdy = Transforms.Grad((Tensor y) => Transforms.Grad((Tensor x2) => Np.Power(x2, y))(x))(Tensor.Scalar(0.0));
        Assert.Equal(1 / 0.6, dxdy.Item<double>(), 12);
        // The shrunk counterexample of the property.
        Transforms.CheckGrads<Tensor[], Tensor>(xs => Np.Power(xs[0], xs[1]),
            [Tensor.FromArray(new double[] { 1, 1, 0.6 }, new Shape(3)), Tensor.FromArray(new double[] { 0.5, 0.5, 0 }, new Shape(3))],
            order: 2, GradModes.Both);
    }
}
