using FsCheck;
using FsCheck.Fluent;
using static Jx.Transforms;

namespace Jx.PropertyTests;

/// <summary>Scan and Cond against what they stand for, on random lengths, unrolls, directions, shapes and values:
/// a scan equals the C# loop of its body (eager, Jit, Grad, Vmap), and a cond equals the branch its predicate takes.</summary>
public class ControlFlowProperties
{
    /// <summary>A random scan: length 0–6, unroll 1–7 (clamped to the length, so sometimes the whole loop), forward or reverse, carry and xs rows of a
    /// random shape, float64 values.</summary>
    public sealed record ScanCase(int Length, int Unroll, bool Reverse, int[] Row, int Seed)
    {
        public override string ToString() => $"length {Length}, unroll {Unroll}, reverse {Reverse}, row ({string.Join(", ", Row)}), seed {Seed}";

        public static Arbitrary<ScanCase> Arbitrary() =>
            (from length in Gen.Choose(0, 6)
             from unroll in Gen.Choose(1, 7)
             from reverse in ArbMap.Default.GeneratorFor<bool>()
             from rank in Gen.Choose(0, 2)
             from dims in Gen.ArrayOf(Gen.Choose(1, 3), rank)
             from seed in Gen.Choose(0, 100000)
             select new ScanCase(length, unroll, reverse, dims, seed)).ToArbitrary();

        public Tensor Xs => Random.Normal(Random.Key(Seed), [Length, .. Row], DType.Float64);
        public Tensor C0 => Random.Normal(Random.Key(Seed + 1), Row, DType.Float64);
        public Tensor W => Random.Normal(Random.Key(Seed + 2), Row, DType.Float64) * 0.5;
    }

    // c' = sin(c)·w + x, y = c·x: nonlinear in the carry, the constant and the row.
    private static (Tensor C, Tensor Y) Step(Tensor c, Tensor x, Tensor w) => (Np.Sin(c) * w + x, c * x);

    private static (Tensor C, Tensor Ys) ViaScan(ScanCase k, Tensor c0, Tensor w, Tensor xs) =>
        Lax.Scan((Tensor c, Tensor x) => Step(c, x, w), c0, xs, length: k.Length, reverse: k.Reverse, unroll: Math.Min(k.Unroll, Math.Max(k.Length, 1)));

    private static (Tensor C, Tensor Ys) ViaLoop(ScanCase k, Tensor c0, Tensor w, Tensor xs)
    {
        var c = c0;
        var ys = new Tensor[k.Length];
        for (int s = 0; s < k.Length; s++)
        {
            int i = k.Reverse ? k.Length - 1 - s : s;
            (c, ys[i]) = Step(c, xs[i], w);
        }
        return (c, k.Length == 0 ? Np.Zeros([0, .. k.Row], DType.Float64) : Np.Stack(ys));
    }

    private static Tensor Loss((Tensor C, Tensor Ys) r) => Np.Sum(r.C * r.C) + Np.Sum(Np.Cos(r.Ys));

    [Fact]
    public void ScanEqualsTheCSharpLoopOfItsBodyUnderEagerJitGradAndVmap()
    {
        Prop.ForAll(ScanCase.Arbitrary(), k =>
        {
            var (c0, w, xs) = (k.C0, k.W, k.Xs);
            var (cl, yl) = ViaLoop(k, c0, w, xs);
            var (ce, ye) = ViaScan(k, c0, w, xs);
            Close(ce, cl, $"eager carry ({k})"); Close(ye, yl, $"eager ys ({k})");
            var (cj, yj) = Jit((Tensor a, Tensor b, Tensor c) => ViaScan(k, a, b, c))(c0, w, xs);
            Close(cj, cl, $"Jit carry ({k})"); Close(yj, yl, $"Jit ys ({k})");

            // Gradients with respect to the initial carry, the constant and the xs, eager and jitted.
            var gLoop = Grad<(Tensor, Tensor, Tensor)>(a => Loss(ViaLoop(k, a.Item1, a.Item2, a.Item3)))((c0, w, xs));
            var gScan = Grad<(Tensor, Tensor, Tensor)>(a => Loss(ViaScan(k, a.Item1, a.Item2, a.Item3)))((c0, w, xs));
            var gJit = Jit(Grad<(Tensor, Tensor, Tensor)>(a => Loss(ViaScan(k, a.Item1, a.Item2, a.Item3))))((c0, w, xs));
            foreach (var (name, want, got, jitted) in new[] { ("c0", gLoop.Item1, gScan.Item1, gJit.Item1), ("w", gLoop.Item2, gScan.Item2, gJit.Item2), ("xs", gLoop.Item3, gScan.Item3, gJit.Item3) })
            {
                Close(got, want, $"Grad d/d{name} ({k})");
                Close(jitted, want, $"Jit(Grad) d/d{name} ({k})");
            }

            // Vmap over a batch of three xs sequences (and initial carries).
            var xb = Np.Stack([xs, xs * 0.5, -xs]);
            var cb = Np.Stack([c0, c0 + 1.0, c0 * 2.0]);
            var (cv, yv) = Vmap((Tensor a, Tensor s) => ViaScan(k, a, w, s))(cb, xb);
            for (int b = 0; b < 3; b++)
            {
                var (cbl, ybl) = ViaLoop(k, cb[b], w, xb[b]);
                Close(cv[b], cbl, $"Vmap carry [{b}] ({k})"); Close(yv[b], ybl, $"Vmap ys [{b}] ({k})");
            }
        }).Check(PropConfig.Cases(25));
    }

    /// <summary>A random recurrent network: length 1–7, unroll 1–4, forward or reverse, batch 1–4, hidden 1–5, input
    /// 1–3 (products of every small size, including K = 1), float64.</summary>
    public sealed record RnnCase(int Length, int Unroll, bool Reverse, int Batch, int Hidden, int Input, int Seed)
    {
        public static Arbitrary<RnnCase> Arbitrary() =>
            (from length in Gen.Choose(1, 7)
             from unroll in Gen.Choose(1, 4)
             from reverse in ArbMap.Default.GeneratorFor<bool>()
             from batch in Gen.Choose(1, 4)
             from hidden in Gen.Choose(1, 5)
             from input in Gen.Choose(1, 3)
             from seed in Gen.Choose(0, 100000)
             select new RnnCase(length, unroll, reverse, batch, hidden, input, seed)).ToArbitrary();

        public Tensor Wh => Random.Normal(Random.Key(Seed), [Hidden, Hidden], DType.Float64) * 0.5;
        public Tensor Wx => Random.Normal(Random.Key(Seed + 1), [Input, Hidden], DType.Float64);
        public Tensor Xs => Random.Normal(Random.Key(Seed + 2), [Length, Batch, Input], DType.Float64);
    }

    private static Tensor RnnLoss(RnnCase k, Tensor wh, Tensor wx, Tensor xs)
    {
        var (h, ys) = Lax.Scan((Tensor h, Tensor x) =>
        {
            var n = Np.Tanh(h.Matmul(wh) + x.Matmul(wx) + 0.1);
            return (n, n.Mean());
        }, Np.Full([k.Batch, k.Hidden], 0.3, DType.Float64), xs, reverse: k.Reverse, unroll: Math.Min(k.Unroll, k.Length));
        return ys.Sum() + Np.Sum(h * h);
    }

    [Fact]
    public void ARecurrentNetworkOfProductsUnderJitGradEqualsEager()
    {
        // Jit runs both scans (forward, and the backward whose weight gradients accumulate products) as pointer loops.
        Prop.ForAll(RnnCase.Arbitrary(), k =>
        {
            var (wh, wx, xs) = (k.Wh, k.Wx, k.Xs);
            var f = ValueAndGrad<(Tensor Wh, Tensor Wx), Tensor>((p, x) => RnnLoss(k, p.Wh, p.Wx, x));
            var jf = Jit(f);
            var lowered = Jit((Tensor a, Tensor b, Tensor x) => f((a, b), x).Item2.Wh).Lower(wh, wx, xs).FusionGroups;
            if (lowered.Split("(pointer loop").Length - 1 != 2) throw new Exception($"expected two pointer loops ({k}):\n{lowered}");
            var (l, g) = f((wh, wx), xs);
            var (lj, gj) = jf((wh, wx), xs);
            Close(lj, l, $"loss ({k})");
            Close(gj.Wh, g.Wh, $"d/dWh ({k})");
            Close(gj.Wx, g.Wx, $"d/dWx ({k})");
        }).Check(PropConfig.Cases(25));
    }

    [Fact]
    public void CondEqualsTheBranchItsPredicateTakes()
    {
        Prop.ForAll(ScanCase.Arbitrary(), k =>
        {
            var (x, w) = (k.C0, k.W);
            Tensor TrueFn(Tensor a) => Np.Sin(a) * w;
            Tensor FalseFn(Tensor a) => Np.Exp(a * 0.1) - w;
            foreach (var pred in new[] { true, false })
            {
                var want = pred ? TrueFn(x) : FalseFn(x);
                var p = Tensor.Scalar(pred);
                Close(Lax.Cond(p, TrueFn, FalseFn, x), want, $"eager pred {pred} ({k})");
                Close(Jit((Tensor q, Tensor a) => Lax.Cond(q, TrueFn, FalseFn, a))(p, x), want, $"Jit pred {pred} ({k})");
                var gWant = Grad((Tensor a) => Np.Sum(pred ? TrueFn(a) : FalseFn(a)))(x);
                Close(Grad((Tensor a) => Np.Sum(Lax.Cond(p, TrueFn, FalseFn, a)))(x), gWant, $"Grad pred {pred} ({k})");
            }
        }).Check(PropConfig.Cases(25));
    }

    private static void Close(Tensor got, Tensor want, string what)
    {
        if (!got.Shape.Equals(want.Shape)) throw new Exception($"{what}: shape {got.Shape} vs {want.Shape}");
        if (!Np.AllClose(got, want, 1e-10, 1e-12)) throw new Exception($"{what}: {got} vs {want}");
    }
}
