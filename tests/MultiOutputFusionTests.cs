using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Multi-output fusion: elementwise kernels over one loop space that share data become one kernel with several
/// outputs (an optimizer update reads its arrays once), a value materialized for reuse is not stored when all its
/// readers end up in one kernel, and kernels that may not join (a transposed read of an earlier output, nothing shared,
/// a vectorized and a scalar kernel) stay apart — with the same results as eager evaluation in every case.</summary>
public class MultiOutputFusionTests
{
    private static Array ArrayOf(Tensor t) => t.Buffer!.RawArray();

    /// <summary>The fusion groups' kernel lines whose loop is <paramref name="loop"/>.</summary>
    private static string[] KernelLines(string groups, string loop) =>
        groups.Split('\n').Where(l => l.Contains(": elementwise, loop " + loop)).ToArray();

    /// <summary>One Adam step on one parameter; the bias corrections c1 = 1 − β1^t and c2 = 1 − β2^t come in as scalars.</summary>
    private static (Tensor P, Tensor M, Tensor V) Adam((Tensor P, Tensor M, Tensor V) state, (Tensor G, Tensor C1, Tensor C2) step)
    {
        var ((p, m, v), (g, c1, c2)) = (state, step);
        const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f;
        var m2 = b1 * m + (1 - b1) * g;
        var v2 = b2 * v + (1 - b2) * g * g;
        return (p - lr * (m2 / c1) / (Np.Sqrt(v2 / c2) + 1e-8f), m2, v2);
    }

    private static ((Tensor, Tensor, Tensor) State, (Tensor, Tensor, Tensor) Step) AdamInputs(int n) =>
        ((Random.Normal(Random.Key(1), [n]), Random.Normal(Random.Key(2), [n]) * 0.1f, Np.Abs(Random.Normal(Random.Key(3), [n])) * 0.01f),
         (Random.Normal(Random.Key(4), [n]), Tensor.Scalar(1f - MathF.Pow(0.9f, 3)), Tensor.Scalar(1f - MathF.Pow(0.999f, 3))));

    private static Func<(Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor)> JitAdam(int[]? donate = null) =>
        Jit<(Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor)>(Adam, donateArgnums: donate);

    [Fact]
    public void AnAdamUpdateIsOneKernelWithThreeOutputsAndMatchesEager()
    {
        var f = JitAdam();
        var a = AdamInputs(1000);
        var groups = f.Lower(a.State, a.Step).FusionGroups;
        // m', v' and p' (which reads m' and v') in one pass over the arrays: the kernel reads p, m, v and g once.
        var lines = KernelLines(groups, "[1000]");
        var line = Assert.Single(lines);
        Assert.Matches(@"outputs %\d+, %\d+, %\d+ ←", line);
        var (p, m, v) = f(a.State, a.Step);
        var (pe, me, ve) = Adam(a.State, a.Step);
        Assert.Equal(me.ToArray<float>(), m.ToArray<float>());
        Assert.Equal(ve.ToArray<float>(), v.ToArray<float>());
        Assert.True(Np.AllClose(p, pe, 1e-6, 1e-7), "p' differs from eager");
    }

    [Fact]
    public void ADonatedAdamStateIsUpdatedInPlaceByTheJoinedKernel()
    {
        var plain = JitAdam();
        var donating = JitAdam(donate: [0]); // the state (p, m, v) is argument 0
        var a = AdamInputs(4099); // not a multiple of the vector width: the scalar tail writes in place too
        var (pw, mw, vw) = plain(a.State, a.Step);
        var storage = new[] { ArrayOf(a.State.Item1), ArrayOf(a.State.Item2), ArrayOf(a.State.Item3) };
        var (p, m, v) = donating(a.State, a.Step);
        // Each output took one donated array (which one is the plan's choice), and the three are distinct.
        var outs = new[] { ArrayOf(p), ArrayOf(m), ArrayOf(v) };
        Assert.All(outs, o => Assert.Contains(o, storage));
        Assert.Equal(3, outs.Distinct().Count());
        Assert.Equal(pw.ToArray<float>(), p.ToArray<float>());
        Assert.Equal(mw.ToArray<float>(), m.ToArray<float>());
        Assert.Equal(vw.ToArray<float>(), v.ToArray<float>());
    }

    [Fact]
    public void AValueReadManyTimesByOneKernelIsNotStored()
    {
        // x0 > 0 is used five times (CSE makes one value of the five comparisons), so the fuser materializes it; its only
        // reader is the root's kernel, so joined it is computed in registers and never stored. (Found by the property
        // test ElementwiseProgramsFuseIntoOneKernel.)
        static Tensor F(Tensor[] x)
        {
            var (x0, x1, x2, x3) = (x[0], x[1], x[2], x[3]);
            var t0 = Np.Where(x0 > 0, x0, x1) - Np.Where(x0 > 0, x1, x0);
            var t1 = Np.Where(x0 > 0, x2, x3) * Np.Cos(Np.Where(x0 > 0, x3, x1));
            return Np.Where(x0 > 0, Np.Sin(t0), t1 + x2);
        }
        var f = Jit<Tensor[], Tensor>(F);
        var xs = Enumerable.Range(0, 4).Select(i => Random.Normal(Random.Key(10 + i), [3, 40], DType.Float64)).ToArray();
        var lowered = f.Lower(xs);
        Assert.True(lowered.KernelCount == 1, lowered.FusionGroups);
        Assert.Contains("every kernel output is allocated per call", lowered.FusionGroups);
        Assert.True(Np.AllClose(f(xs), F(xs), 1e-14, 1e-15));
    }

    [Fact]
    public void ATransposedReadOfAnEarlierOutputKeepsTheKernelsApart()
    {
        // z reads y transposed: element (i, j) of z needs y(j, i), which a joined loop would not have computed yet.
        static (Tensor, Tensor) F(Tensor x)
        {
            var y = Np.Exp(x);
            return (y, y.T * 2f + y);
        }
        var f = Jit<Tensor, (Tensor, Tensor)>(F);
        var x = Random.Normal(Random.Key(5), [48, 48]);
        var lowered = f.Lower(x);
        Assert.Equal(2, KernelLines(lowered.FusionGroups, "[48,48]").Length);
        var (y, z) = f(x);
        var (ye, ze) = F(x);
        Assert.True(Np.AllClose(y, ye, 1e-6, 1e-6) && Np.AllClose(z, ze, 1e-6, 1e-6));
    }

    [Fact]
    public void KernelsThatShareNothingStayApart()
    {
        var f = Jit((Tensor a, Tensor b) => (a + 1f, b * 2f));
        var a = Random.Normal(Random.Key(6), [100]);
        var b = Random.Normal(Random.Key(7), [100]);
        Assert.Equal(2, KernelLines(f.Lower(a, b).FusionGroups, "[100]").Length);
    }

    [Fact]
    public void AVectorizedKernelDoesNotJoinAScalarOne()
    {
        // pow has no vector form: joining y = x + 1 (returned) into the pow kernel would compute y on the scalar path.
        static (Tensor, Tensor) F(Tensor x)
        {
            var y = x + 1f;
            return (y, Lax.Pow(y, x));
        }
        var f = Jit<Tensor, (Tensor, Tensor)>(F);
        var x = Np.Abs(Random.Normal(Random.Key(8), [256]));
        Assert.Equal(2, KernelLines(f.Lower(x).FusionGroups, "[256]").Length);
        var (y, z) = f(x);
        var (ye, ze) = F(x);
        Assert.Equal(ye.ToArray<float>(), y.ToArray<float>());
        Assert.True(Np.AllClose(z, ze, 1e-6, 1e-6));
    }

    [Fact]
    public void AKernelThatCannotMoveUpJoinsByMovingTheEarlierOneDown()
    {
        // p' needs Σ g², a reduction that runs after m'; m' is not read in between, so the joined kernel runs in p''s place.
        static (Tensor, Tensor) F((Tensor P, Tensor M) s, Tensor g)
        {
            var m2 = 0.9f * s.M + 0.1f * g;
            var norm = (g * g).Sum();
            return (s.P - m2 / norm, m2);
        }
        var f = Jit<(Tensor, Tensor), Tensor, (Tensor, Tensor)>(F);
        var s = (Random.Normal(Random.Key(1), [64]), Random.Normal(Random.Key(2), [64]));
        var g = Random.Normal(Random.Key(3), [64]);
        var groups = f.Lower(s, g).FusionGroups;
        var lines = groups.Split('\n');
        int reduction = Array.FindIndex(lines, l => l.Contains("reduce_sum"));
        int joined = Array.FindIndex(lines, l => l.Contains(": elementwise, loop [64]"));
        Assert.Matches(@"outputs %\d+, %\d+ ←", Assert.Single(KernelLines(groups, "[64]")));
        Assert.True(reduction >= 0 && joined > reduction, groups);
        var (p2, m2) = f(s, g);
        var (pe, me) = F(s, g);
        Assert.Equal(me.ToArray<float>(), m2.ToArray<float>());
        Assert.Equal(pe.ToArray<float>(), p2.ToArray<float>());
    }

    [Fact]
    public void AFloatConvertedToBoolIsALaneMaskOfNonZero()
    {
        // The mask is read four times (so it is materialized), then joined into its reader's vector loop: the float →
        // bool conversion must give x ≠ 0 per lane (NaN true, −0 false), not the float's bits.
        static Tensor F(Tensor x, Tensor y)
        {
            var mask = x.AsType(DType.Bool) & (y > 0);
            return Np.Where(mask, x, y) + Np.Where(mask, y, 1f) * Np.Where(mask, 2f, x) - Np.Where(mask, 0.5f, y);
        }
        var f = Jit<Tensor, Tensor, Tensor>(F);
        var x = Tensor.FromArray(Enumerable.Range(0, 67).Select(i => i % 4 == 0 ? 0f : i % 4 == 1 ? -0f : i % 7 == 0 ? float.NaN : i * 0.25f - 8).ToArray());
        var y = Random.Normal(Random.Key(9), [67]);
        var got = f(x, y).ToArray<float>();
        var want = F(x, y).ToArray<float>();
        Assert.Equal(want, got);
    }

    [Fact]
    public void AnOutputWrittenOverADonatedInputThatALaterOutputReadsIsStoredAfterIt()
    {
        // y·2 and x + y share y, so they are one kernel; x's array goes to y·2, which does not read x. x + y reads x in the
        // same element: the kernel must load it before it stores y·2 there.
        var f = Jit((Tensor x, Tensor y) => (y * 2f, x + y), donateArgnums: [0]);
        var x = Random.Normal(Random.Key(11), [1000]);
        var y = Random.Normal(Random.Key(12), [1000]);
        var (twice, sum) = ((y * 2f).ToArray<float>(), (x + y).ToArray<float>());
        Assert.Single(KernelLines(f.Lower(x, y).FusionGroups, "[1000]"));
        var storage = ArrayOf(x);
        var (a, b) = f(x, y);
        Assert.Same(storage, ArrayOf(a));
        Assert.Equal(twice, a.ToArray<float>());
        Assert.Equal(sum, b.ToArray<float>());
    }
}
