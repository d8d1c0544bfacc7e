using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>A compiled scan or while loop whose body is kernels and float products runs as a loop over raw pointers
/// (<see cref="PointerLoop"/>): rows of xs read in place, ys written in place, no per-iteration allocation. Each
/// case is checked against the general loop path (the same compiled kernels and products, run through tensors) — bit
/// for bit, except where a carry accumulates a product in place (BLAS sums C + A·B in its own order) — and against
/// eager evaluation. The tests flip the process-wide <see cref="PointerLoop.Enabled"/> switch, so they run alone.</summary>
[CollectionDefinition("PointerLoop", DisableParallelization = true)]
public class PointerLoopCollection;

[Collection("PointerLoop")]
public class PointerLoopTests
{
    private static readonly Tensor Xs = (Np.Arange(60).Reshape([5, 3, 4]).AsType(DType.Float32) - 30f) * 0.05f;

    /// <summary>Runs <paramref name="f"/> jitted with the pointer loop and with the general path; asserts they are
    /// equal bit for bit, that they match eager within <paramref name="tol"/>, and whether the lowered program says
    /// the pointer loop runs.</summary>
    private static void Check(Func<Tensor, Tensor, Tensor[]> f, Tensor a, Tensor b, bool pointerLoop, double tol = 1e-6, bool exact = true)
    {
        var lowered = Jit(f).Lower(a, b).FusionGroups;
        Assert.Contains("loop ", lowered);
        Assert.Equal(pointerLoop, lowered.Contains("(pointer loop"));
        var fast = Jit(f)(a, b);
        Tensor[] general;
        PointerLoop.Enabled = false;
        try { general = Jit(f)(a, b); }
        finally { PointerLoop.Enabled = true; }
        var eager = f(a, b);
        Assert.Equal(eager.Length, fast.Length);
        for (int i = 0; i < fast.Length; i++)
        {
            Assert.Equal(general[i].Shape.ToArray(), fast[i].Shape.ToArray());
            Assert.Equal(general[i].DType, fast[i].DType);
            // An accumulator updated in place sums in BLAS's order (C + A·B in one call): equal to rounding, not bit for bit.
            if (exact) Assert.Equal(general[i].AsType(DType.Float64).ToArray<double>(), fast[i].AsType(DType.Float64).ToArray<double>());
            else Assert.True(Np.AllClose(general[i].AsType(DType.Float64), fast[i].AsType(DType.Float64), 1e-6, 1e-6), $"output {i}: {general[i]} vs {fast[i]}");
            Assert.True(Np.AllClose(eager[i].AsType(DType.Float64), fast[i].AsType(DType.Float64), tol, tol),
                $"output {i}: eager {eager[i]} vs jitted {fast[i]}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARecurrentCellWithProductsRunsAsAPointerLoop(bool reverse)
    {
        var w = (Np.Arange(16).Reshape([4, 4]).AsType(DType.Float32) - 8f) * 0.1f;
        Check((h0, xs) =>
        {
            var (h, ys) = Lax.Scan((Tensor h, Tensor x) =>
            {
                var n = Np.Tanh(h.Matmul(w) + x.Matmul(w.T) + 0.1f);
                return (n, n.Mean(axis: 1));
            }, h0, xs, reverse: reverse);
            return [h, ys];
        }, Np.Full([3, 4], 0.25f), Xs, pointerLoop: true);
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(5, false)]
    public void AnUnrolledBodyRunsBlocksOfStepsOverPointersAndTheStepsLeftOverOnThePlainBody(int unroll, bool reverse)
    {
        // Five steps: with unroll 2 or 3 a plain iteration is left over (two with 3); with 5 there is none. The ys
        // include a computed value, the carry passed in, and the row itself.
        var w = (Np.Arange(16).Reshape([4, 4]).AsType(DType.Float32) - 8f) * 0.1f;
        Check((h0, xs) =>
        {
            var (h, ys) = Lax.Scan((Tensor h, Tensor x) =>
            {
                var n = Np.Tanh(h.Matmul(w) + x);
                return (n, (n.Sum(axis: 1), h, x));
            }, h0, xs, reverse: reverse, unroll: unroll);
            return [h, ys.Item1, ys.Item2, ys.Item3];
        }, Np.Full([3, 4], 0.25f), Xs, pointerLoop: true);
    }

    [Fact]
    public void GradientsOfARecurrentCellRunBothLoopsAsPointerLoopsAndMatchTheGeneralPath()
    {
        var xs = Xs;
        Func<Tensor, Tensor, Tensor[]> f = (w, b) =>
        {
            var (loss, g) = ValueAndGrad((Tensor ww) =>
                Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h.Matmul(ww) + x + b); return (n, n.Mean()); }, Np.Zeros([3, 4]), xs).Ys.Sum())(w);
            return [loss, g];
        };
        var w0 = (Np.Arange(16).Reshape([4, 4]).AsType(DType.Float32) - 8f) * 0.1f;
        var lowered = Jit(f).Lower(w0, Np.Full([4], 0.2f)).FusionGroups;
        // The forward loop, and the backward loop whose weight gradient Σ_t h_tᵀ·δ_t is a product added into the carry
        // in place.
        Assert.Equal(2, lowered.Split("(pointer loop").Length - 1);
        Assert.Contains("(pointer loop, 1 accumulator in place)", lowered);
        Check(f, w0, Np.Full([4], 0.2f), pointerLoop: true, tol: 1e-5, exact: false);
    }

    [Fact]
    public void YsThatAreRowsCarriesConstantsOrRepeatedValuesAreCopiedIntoTheirRows()
    {
        // ys: the carry passed in (an older iteration's value), the row itself, a captured constant, a literal, and one
        // computed value twice (written in place once, copied once); the new carry is the computed value.
        var k = Np.Array(new float[] { 1, 2, 3, 4 });
        Check((c0, xs) =>
        {
            var (c, ys) = Lax.Scan((Tensor c, Tensor x) =>
            {
                var n = c * 0.5f + x;
                return (n, (c, x, k * 1f, Np.OnesLike(c), n, n));
            }, c0, xs);
            return [c, ys.Item1, ys.Item2, ys.Item3, ys.Item4, ys.Item5, ys.Item6];
        }, Np.Full([3, 4], 2f), Xs, pointerLoop: true);
    }

    [Fact]
    public void ACarryThatIsTheRowOrAConstantIsCopiedOutAtTheEnd()
    {
        Check((c0, xs) =>
        {
            var ((a, s), ys) = Lax.Scan(((Tensor A, Tensor S) c, Tensor x) => ((x, c.S + c.A.Sum()), c.A * 2f), (c0, Tensor.Scalar(0f)), xs);
            return [a, s, ys];
        }, Np.Full([3, 4], 1f), Xs, pointerLoop: true);
    }

    [Fact]
    public void ACarryThatStaysUnchangedKeepsItsInitialValue()
    {
        Check((c0, xs) =>
        {
            var ((c, k), ys) = Lax.Scan(((Tensor C, Tensor K) s, Tensor x) => ((s.C * s.K + x, s.K), s.K.Sum()), (c0, c0 * 0.5f + 0.25f), xs);
            return [c, k, ys];
        }, Np.Full([3, 4], 0.5f), Xs, pointerLoop: true);
    }

    [Fact]
    public void SplatInputsIntegerCarriesAndFloat64ProductsRunInPlace()
    {
        // Zero xs and a zero initial carry (splat buffers), an int32 step counter, float64 values and a batched product.
        Check((c0, xs) =>
        {
            var ((i, c), ys) = Lax.Scan(((Tensor I, Tensor C) s, Tensor x) =>
            {
                var m = Np.Einsum("bij,bjk->bik", s.C, s.C.Transpose([0, 2, 1])) * 0.1f;
                var n = Np.Tanh(m.Sum(axis: 2, keepDims: true) + x + s.I.AsType(DType.Float64));
                return ((s.I + 1, s.C * 0.9f + n), n.Sum());
            }, (Tensor.Scalar(0), c0), xs);
            return [i, c, ys];
        }, Np.Zeros([2, 3, 4], DType.Float64), Np.Zeros([6, 2, 3, 1], DType.Float64), pointerLoop: true);
    }

    [Fact]
    public void ABodyWithACarryPassedThroughOrANestedLoopTakesTheGeneralPath()
    {
        Check((a0, xs) =>
        {
            var ((a, b), ys) = Lax.Scan(((Tensor A, Tensor B) c, Tensor x) => ((c.B, c.A * 2f + x), c.A - c.B), (a0, a0 + 1f), xs);
            return [a, b, ys];
        }, Np.Full([3, 4], 0.5f), Xs, pointerLoop: false);
        Check((c0, xs) =>
        {
            var (c, ys) = Lax.Scan((Tensor c, Tensor x) =>
                (c + Lax.Scan((Tensor d, Tensor v) => (d * 0.5f + v, d), Np.Zeros([4]), x).Carry, c.Sum()), c0, xs);
            return [c, ys];
        }, Np.Full([4], 0.5f), Xs, pointerLoop: false);
    }

    [Fact]
    public void AProductAddedIntoACarryIsAccumulatedInPlaceOnlyWhenNothingElseReadsItsParts()
    {
        var w = (Np.Arange(12).Reshape([3, 4]).AsType(DType.Float32) - 6f) * 0.1f;
        // Folded: c' = c + xᵀ·x and c' = x·w + c (either order), starting from a non-zero carry.
        Func<Tensor, Tensor, Tensor[]> folded = (c0, xs) =>
        {
            var ((a, b), ys) = Lax.Scan(((Tensor A, Tensor B) c, Tensor x) =>
                ((c.A + x.T.Matmul(x), x.Matmul(w.T) + c.B), x.Sum()), (c0, Np.Full([3, 3], 0.5f)), xs);
            return [a, b, ys];
        };
        Assert.Contains("(pointer loop, 2 accumulators in place)", Jit(folded).Lower(Np.Ones([4, 4]), Xs).FusionGroups);
        Check(folded, Np.Ones([4, 4]), Xs, pointerLoop: true, exact: false);
        Check((c0, xs) => folded(c0.AsType(DType.Float64), xs.AsType(DType.Float64)), Np.Ones([4, 4]), Xs, pointerLoop: true, exact: false);

        // Not folded: the old carry is also a y; the product is also a y; the new carry is also read by the body.
        Func<Tensor, Tensor, Tensor[]> kept = (c0, xs) =>
        {
            var ((a, b, d), ys) = Lax.Scan(((Tensor A, Tensor B, Tensor D) c, Tensor x) =>
            {
                var p = x.T.Matmul(x);
                var nd = c.D + x.T.Matmul(x * 2f);
                return ((c.A + x.T.Matmul(x * 0.5f), c.B + p, nd), (c.A, p, nd.Sum()));
            }, (c0, c0, c0), xs);
            return [a, b, d, ys.Item1, ys.Item2, ys.Item3];
        };
        var lowered = Jit(kept).Lower(Np.Ones([4, 4]), Xs).FusionGroups;
        Assert.Contains("(pointer loop)", lowered);
        Assert.DoesNotContain("accumulator", lowered);
        Check(kept, Np.Ones([4, 4]), Xs, pointerLoop: true);

        // Not folded: the add reads the product transposed (xᵀ·sin(x) is not symmetric), so the GEMM's output is not
        // the carry's layout.
        Func<Tensor, Tensor, Tensor[]> transposed = (c0, xs) =>
            [Lax.Scan((Tensor c, Tensor x) => (c + x.T.Matmul(Np.Sin(x)).T, x.Sum()), c0, xs).Carry];
        Assert.DoesNotContain("accumulator", Jit(transposed).Lower(Np.Ones([4, 4]), Xs).FusionGroups);
        Check(transposed, Np.Ones([4, 4]), Xs, pointerLoop: true);
    }

    [Fact]
    public void AWhileLoopBodyOfKernelsAndProductsRunsOverPointers()
    {
        // (i, h, s) → (i + 1, tanh(h·w) + x, s + Σh) while i < n: a counter, a product, and an accumulated sum.
        var w = (Np.Arange(16).Reshape([4, 4]).AsType(DType.Float32) - 8f) * 0.1f;
        Func<Tensor, Tensor, Tensor[]> f = (h0, n) =>
        {
            var (i, h, s) = Lax.WhileLoop(((Tensor I, Tensor H, Tensor S) c) => c.I < n,
                c => (c.I + 1, Np.Tanh(c.H.Matmul(w)) + 0.5f, c.S + c.H.Sum()), (I: Tensor.Scalar(0), H: h0, S: Tensor.Scalar(0f)));
            return [i, h, s];
        };
        var h0 = Np.Full([3, 4], 0.25f);
        Check(f, h0, Tensor.Scalar(7), pointerLoop: true);
        Check(f, h0, Tensor.Scalar(1), pointerLoop: true);
        // A loop that never runs returns its initial carry.
        Check(f, h0, Tensor.Scalar(0), pointerLoop: true);
        // A carry that accumulates a product is updated in place, and the condition reads it.
        Func<Tensor, Tensor, Tensor[]> gram = (h, n) =>
        {
            var (i, g) = Lax.WhileLoop(((Tensor I, Tensor G) c) => (c.I < n) & (c.G.Sum() < 1e4f),
                c => (c.I + 1, c.G + h.T.Matmul(h * c.I.AsType(DType.Float32))), (I: Tensor.Scalar(0), G: Np.Zeros([4, 4])));
            return [i, g];
        };
        Assert.Contains("(pointer loop, 1 accumulator in place)", Jit(gram).Lower(h0, Tensor.Scalar(6)).FusionGroups);
        Check(gram, h0, Tensor.Scalar(6), pointerLoop: true, exact: false);
        Assert.Equal(h0.ToArray<float>(), Jit(f)(h0, Tensor.Scalar(-3))[1].ToArray<float>());
        // ForiLoop with traced bounds is a while loop.
        Check((x, n) => [Lax.ForiLoop(Tensor.Scalar(0), n, (i, c) => c.Matmul(w) * 0.5f + i.AsType(DType.Float32), x)], h0, Tensor.Scalar(5), pointerLoop: true);
    }

    [Fact]
    public void OneStepAndManyStepsMatch()
    {
        Func<Tensor, Tensor, Tensor[]> f = (c0, xs) =>
        {
            var (c, ys) = Lax.Scan((Tensor c, Tensor x) => { var n = Np.Sin(c) + x; return (n, n * n); }, c0, xs);
            return [c, ys];
        };
        Check(f, Np.Full([4], 0.3f), Np.Ones([1, 4]), pointerLoop: true);
        Check(f, Np.Full([4], 0.3f), Np.Arange(4000).Reshape([1000, 4]).AsType(DType.Float32) * 1e-3f, pointerLoop: true, tol: 1e-5);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    public void SmallFloatProductsRunOnTheLoopKernelAndAgreeWithBlasForwardAndBackward(bool reverse, int unroll)
    {
        // Products of [8,64]·[64,64] (forward h·w and x·wᵀ, wᵀ transposed once before the loop: two 4-row tiles each)
        // and the backward's [64,8]ᵀ·[8,64] weight gradients (ten 6-row tiles and a 4-row one) run on SmallGemm, which also prefetches the next step's rows of xs and ys; 13
        // steps so that some iterations prefetch and the last does not, and an unrolled body leaves a step over.
        var wh = (Np.Arange(64 * 64).Reshape([64, 64]).AsType(DType.Float32) % 7f - 3f) * 0.01f;
        var xs = Np.Sin(Np.Arange(13 * 8 * 64).Reshape([13, 8, 64]).AsType(DType.Float32) * 0.37f);
        Func<Tensor, Tensor, Tensor[]> loss = (w, seq) =>
        {
            var (h, ys) = Lax.Scan((Tensor h, Tensor x) =>
            {
                var n = Np.Tanh(h.Matmul(w) + x.Matmul(w.T) + 0.1f);
                return (n, n.Mean());
            }, Np.Full([8, 64], 0.2f), seq, reverse: reverse, unroll: unroll);
            return [h, ys];
        };
        Func<Tensor, Tensor, Tensor[]> grads = (w, seq) => [Grad((Tensor v) => loss(v, seq)[1].Sum() + loss(v, seq)[0].Sum())(w)];
        foreach (var f in new[] { loss, grads })
        {
            var lowered = Jit(f).Lower(wh, xs).FusionGroups;
            Assert.Contains("(pointer loop", lowered);
            // The loop's products run on SmallGemm where the CPU has AVX-512 (else on BLAS, and this compares BLAS with itself).
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Contains("small products)", lowered);
            var small = Jit(f)(wh, xs);
            Tensor[] blas;
            bool before = PointerLoop.SmallKernel;
            PointerLoop.SmallKernel = false;
            try { blas = Jit(f)(wh, xs); }
            finally { PointerLoop.SmallKernel = before; }
            var eager = f(wh, xs);
            for (int i = 0; i < small.Length; i++)
            {
                Assert.True(Np.AllClose(blas[i].AsType(DType.Float64), small[i].AsType(DType.Float64), 1e-5, 1e-5), $"output {i}: {blas[i]} vs {small[i]}");
                Assert.True(Np.AllClose(eager[i].AsType(DType.Float64), small[i].AsType(DType.Float64), 1e-4, 1e-5), $"output {i}: eager {eager[i]} vs {small[i]}");
            }
        }
    }
}
