using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Kernel-invariant subexpressions: the parts of an elementwise kernel that read only broadcast scalars (an
/// optimizer's bias correction 1 − β^t with a traced step count) are computed once per call before the loop, so an
/// operation without a vector form among them (pow) no longer keeps the whole kernel scalar — with the same results as
/// eager evaluation.</summary>
public class KernelInvariantTests
{
    private static Kernel ScaleByBiasCorrection(int n) => new()
    {
        Name = "k0",
        LoopShape = [n],
        // out = x / (1 − 0.9^t): x is slot 0 read element by element, t is slot 1 broadcast (stride 0).
        Outputs = [(new OpExpr("div", [
            new InputExpr(new View(0, 0, [1], DType.Float32)),
            new OpExpr("sub", [new ConstExpr(1, DType.Float32),
                new OpExpr("pow", [new ConstExpr(0.9, DType.Float32), new InputExpr(new View(1, 0, [0], DType.Float32))], DType.Float32)], DType.Float32),
        ], DType.Float32), 2)],
    };

    [Fact]
    public void APowOfABroadcastScalarIsHoistedAndTheLoopStaysVectorized()
    {
        var k = ScaleByBiasCorrection(1000);
        var root = Assert.Single(CodeGen.InvariantRoots(k));
        Assert.Equal("sub", root.Op);
        Assert.True(CodeGen.IsVectorized(k));
        var code = CodeGen.Generate(k, "k0", out _);
        int pow = code.IndexOf("MathF.Pow", StringComparison.Ordinal), loop = code.IndexOf("while (s < e)", StringComparison.Ordinal);
        Assert.True(pow >= 0 && pow < loop, "pow is computed once, before the loop:\n" + code);
        Assert.Equal(1, code.Split("MathF.Pow").Length - 1);
        Assert.Contains("Vector512.Load", code);
    }

    [Fact]
    public void AKernelWhoseElementsDependOnAnOperationWithoutAVectorFormStaysScalar()
    {
        // pow of the moving element itself is not invariant: nothing is hoisted and the loop is scalar.
        var k = new Kernel
        {
            Name = "k0",
            LoopShape = [64],
            Outputs = [(new OpExpr("pow", [new ConstExpr(0.9, DType.Float32), new InputExpr(new View(0, 0, [1], DType.Float32))], DType.Float32), 1)],
        };
        Assert.Empty(CodeGen.InvariantRoots(k));
        Assert.False(CodeGen.IsVectorized(k));
    }

    private static (Tensor P, Tensor M, Tensor V) Adam((Tensor P, Tensor M, Tensor V) state, (Tensor G, Tensor T) step)
    {
        var ((p, m, v), (g, t)) = (state, step);
        const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f;
        var m2 = b1 * m + (1 - b1) * g;
        var v2 = b2 * v + (1 - b2) * g * g;
        var c1 = 1f - Np.Power(Tensor.Scalar(b1), t);
        var c2 = 1f - Np.Power(Tensor.Scalar(b2), t);
        return (p - lr * (m2 / c1) / (Np.Sqrt(v2 / c2) + 1e-8f), m2, v2);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(4099)] // not a multiple of the vector width: the scalar tail reads the hoisted values too
    public void AnAdamStepWithATracedStepCountIsOneKernelAndMatchesEager(int n)
    {
        var f = Jit<(Tensor, Tensor, Tensor), (Tensor, Tensor), (Tensor, Tensor, Tensor)>(Adam);
        var state = (Random.Normal(Random.Key(1), [n]), Random.Normal(Random.Key(2), [n]) * 0.1f, Np.Abs(Random.Normal(Random.Key(3), [n])) * 0.01f);
        var step = (Random.Normal(Random.Key(4), [n]), Tensor.Scalar(3f));
        var groups = f.Lower(state, step).FusionGroups;
        // With pow inside, the update kernel used to be scalar, so m′ and v′ (vectorized) could not join it.
        var line = Assert.Single(groups.Split('\n'), l => l.Contains($": elementwise, loop [{n}]"));
        Assert.Matches(@"outputs %\d+, %\d+, %\d+ ←", line);
        for (float t = 1; t <= 3; t++)
        {
            var s = (step.Item1, Tensor.Scalar(t));
            var (p, m, v) = f(state, s);
            var (pe, me, ve) = Adam(state, s);
            Assert.Equal(me.ToArray<float>(), m.ToArray<float>());
            Assert.Equal(ve.ToArray<float>(), v.ToArray<float>());
            Assert.True(Np.AllClose(p, pe, 1e-6, 1e-7), $"p' differs from eager at t = {t}");
        }
    }

    [Fact]
    public void AnInvariantComparisonIsHoistedAsABoolAndTheSelectStaysVectorized()
    {
        // select_n(t > 2, −x, 2x + 1) with t broadcast: the comparison is the one invariant root, a bool that the vector
        // loop turns into a lane mask.
        var x = new InputExpr(new View(0, 0, [1], DType.Float32));
        var cmp = new OpExpr("gt", [new InputExpr(new View(1, 0, [0], DType.Float32)), new ConstExpr(2, DType.Float32)], DType.Bool);
        var k = new Kernel
        {
            Name = "k0",
            LoopShape = [37],
            Outputs = [(new OpExpr("select_n", [cmp, new OpExpr("neg", [x], DType.Float32),
                new OpExpr("add", [new OpExpr("mul", [x, new ConstExpr(2, DType.Float32)], DType.Float32), new ConstExpr(1, DType.Float32)], DType.Float32)],
                DType.Float32), 2)],
        };
        Assert.Equal(cmp, Assert.Single(CodeGen.InvariantRoots(k)));
        Assert.True(CodeGen.IsVectorized(k));
        Assert.Contains(".AllBitsSet : Vector512<float>.Zero)", CodeGen.Generate(k, "k0", out _));
    }

    [Fact]
    public void AnInvariantComparisonBecomesALaneMaskForBothOutcomes()
    {
        // where(t > 2, x, −x) with a scalar t: the comparison is hoisted as a bool and selects whole vectors.
        var f = Jit<Tensor, Tensor, Tensor>((x, t) => Np.Where(t > 2f, x * 2f + 1f, -x));
        var x = Random.Normal(Random.Key(5), [37]);
        foreach (var t in new[] { 1f, 3f })
            Assert.Equal(Np.Where(Tensor.Scalar(t) > 2f, x * 2f + 1f, -x).ToArray<float>(), f(x, Tensor.Scalar(t)).ToArray<float>());
    }

    [Fact]
    public void IntegerAndHalfInvariantsMatchEager()
    {
        // An int32 step count converted to float inside the kernel, and a float16 kernel (scalar code) with a hoisted pow.
        var fi = Jit<Tensor, Tensor, Tensor>((x, n) => x * Np.Power(Tensor.Scalar(0.5f), n.AsType(DType.Float32)));
        var x = Random.Normal(Random.Key(6), [50]);
        var n = Tensor.Scalar(3);
        Assert.Equal((x * Np.Power(Tensor.Scalar(0.5f), n.AsType(DType.Float32))).ToArray<float>(), fi(x, n).ToArray<float>());

        var fh = Jit<Tensor, Tensor, Tensor>((h, t) => h / (1f - Np.Power(Tensor.Scalar(0.9f).AsType(DType.Float16), t)));
        var h = Random.Normal(Random.Key(7), [40]).AsType(DType.Float16);
        var th = Tensor.Scalar(2f).AsType(DType.Float16);
        var want = h / (1f - Np.Power(Tensor.Scalar(0.9f).AsType(DType.Float16), th));
        Assert.Equal(want.ToArray<Half>(), fh(h, th).ToArray<Half>());
    }
}
