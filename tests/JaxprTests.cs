namespace Jx.Tests;

/// <summary>Tracing to the IR: exact printed jaxprs (JAX's text form: literals, sorted params, multiple outputs,
/// constvars), alpha-equivalence with equal hashes, evaluation that reproduces eager results, and pytree arguments.</summary>
public class JaxprTests
{
    [Fact]
    public void ScalarLiteralsPrintWithTheirType()
    {
        Assert.Equal("{ lambda ; a:f32[]. let b:f32[] = mul a 2.0:f32[] in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x * 2f)(Tensor.Scalar(1f)).ToString());
        Assert.Equal("{ lambda ; a:f32[]. let b:f32[] = mul a 2.0:f32[] in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x * 2)(Tensor.Scalar(1f)).ToString());
        Assert.Equal("{ lambda ; a:i32[]. let b:i32[] = add a 1:i32[] in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x + 1)(Tensor.Scalar(1)).ToString());
        Assert.Equal("{ lambda ; a:f64[]. let b:f64[] = mul a 0.1:f64[] in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x * 0.1)(Tensor.Scalar(1.0)).ToString());
        Assert.Equal("{ lambda ; a:f32[]. let b:f32[] = select_n True:bool[] a a in (b,) }",
            Jax.MakeJaxpr((Tensor x) => Lax.Select(Tensor.Scalar(true), x, x))(Tensor.Scalar(1f)).ToString());
    }

    [Fact]
    public void NonFiniteAndLargeLiteralsPrintAsNumPyScalars()
    {
        Assert.Equal("{ lambda ; a:f32[]. let\n    b:f32[] = mul a nan:f32[]\n    c:f32[] = add b 1e+20:f32[]\n  in (c,) }",
            Jax.MakeJaxpr((Tensor x) => x * float.NaN + 1e20f)(Tensor.Scalar(1f)).ToString());
        Assert.Equal("{ lambda ; a:f32[]. let b:f32[] = add a -inf:f32[] in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x + float.NegativeInfinity)(Tensor.Scalar(1f)).ToString());
    }

    [Fact]
    public void ParamsPrintSortedByName()
    {
        Assert.Equal("{ lambda ; a:f32[2,3]. let b:f32[3,2] = transpose[permutation=(1, 0)] a in (b,) }",
            Jax.MakeJaxpr((Tensor x) => x.T)(Np.Ones([2, 3])).ToString());
        Assert.Equal("{ lambda ; a:f32[2,3]. let\n    b:f32[3] = reduce_sum[axes=(0,) out_sharding=None] a\n  in (b,) }",
            Jax.MakeJaxpr((Tensor x) => Np.Sum(x, [0]))(Np.Ones([2, 3])).ToString());
        Assert.Equal(
            "{ lambda ; a:f32[3]. let\n" +
            "    b:f32[3] = broadcast_in_dim[broadcast_dimensions=() shape=(3,) sharding=None] 0.0:f32[]\n" +
            "    c:bool[3] = gt a b\n" +
            "    d:i32[3] = convert_element_type[new_dtype=int32 weak_type=False] c\n" +
            "    e:i32[] = reduce_sum[axes=(0,) out_sharding=None] d\n" +
            "  in (e,) }",
            Jax.MakeJaxpr((Tensor x) => Np.Sum(x > 0))(Np.Ones([3])).ToString());
        Assert.Equal(
            "{ lambda ; a:f32[2,3] b:f32[3,4]. let\n" +
            "    c:f32[2,4] = dot_general[dimension_numbers=(((1,), (0,)), ((), ())) precision=None preferred_element_type=float32] a b\n" +
            "  in (c,) }",
            Jax.MakeJaxpr((Tensor x, Tensor y) => Np.Matmul(x, y))(Np.Ones([2, 3]), Np.Ones([3, 4])).ToString());
        Assert.Equal("{ lambda ; a:f32[3]. let\n    b:f32[7] = pad[padding_config=((1, -1, 2),)] a 0.0:f32[]\n  in (b,) }",
            Jax.MakeJaxpr((Tensor x) => Lax.Pad(x, Tensor.Scalar(0f), [(1, -1, 2)]))(Np.Ones([3])).ToString());
        Assert.Equal("[axes=(0,) out_sharding=None]", Params.Of(("out_sharding", null), ("axes", new[] { 0 })).ToString());
    }

    [Fact]
    public void BroadcastingALiteralStagesABroadcast()
    {
        Assert.Equal(
            "{ lambda ; a:f32[3]. let\n" +
            "    b:f32[3] = sin a\n" +
            "    c:f32[3] = broadcast_in_dim[broadcast_dimensions=() shape=(3,) sharding=None] 2.0:f32[]\n" +
            "    d:f32[3] = mul b c\n" +
            "  in (d,) }",
            Jax.MakeJaxpr((Tensor x) => Np.Sin(x) * 2f)(Np.Ones([3])).ToString());
    }

    [Fact]
    public void MultipleOutputs()
    {
        Assert.Equal("{ lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = cos a in (b, c) }",
            Jax.MakeJaxpr((Tensor x) => (Np.Sin(x), Np.Cos(x)))(Np.Ones([3])).ToString());
        Assert.Equal("{ lambda ; a:f32[3]. let b:f32[3] = neg a in (b, a, b) }",
            Jax.MakeJaxpr((Tensor x) => { var n = -x; return (n, x, n); })(Np.Ones([3])).ToString());
    }

    [Fact]
    public void IdentityHasNoEquations()
    {
        Assert.Equal("{ lambda ; a:f32[3]. let  in (a,) }", Jax.MakeJaxpr((Tensor x) => x)(Np.Ones([3])).ToString());
        Assert.Equal("{ lambda ; a:f32[3] b:i32[]. let  in (b, a) }", Jax.MakeJaxpr((Tensor x, Tensor y) => (y, x))(Np.Ones([3]), Tensor.Scalar(1)).ToString());
        // constant outputs: a scalar is a literal, an array a constvar
        Assert.Equal("{ lambda ; a:f32[3]. let  in (1.0:f32[],) }", Jax.MakeJaxpr((Tensor x) => Tensor.Scalar(1f))(Np.Ones([3])).ToString());
        var c = Jax.MakeJaxpr((Tensor x) => Np.Array(new[] { 1, 2 }))(Np.Ones([3]));
        Assert.Equal("{ lambda a:i32[2]; b:f32[3]. let  in (a,) }", c.ToString());
        Assert.Equal(new[] { 1, 2 }, c.Call(Np.Zeros([3]))[0].ToArray<int>());
    }

    [Fact]
    public void CapturedArraysBecomeConstvarsAndScalarsLiterals()
    {
        var c = Np.Array(new[] { 1f, 2f, 3f });
        var j = Jax.MakeJaxpr((Tensor x) => x + c)(Np.Ones([3]));
        Assert.Equal("{ lambda a:f32[3]; b:f32[3]. let c:f32[3] = add b a in (c,) }", j.ToString());
        Assert.Single(j.Consts);
        Assert.Same(c, j.Consts[0]);
        Assert.Single(j.Jaxpr.ConstVars);
        var s = Tensor.Scalar(3f);
        var k = Jax.MakeJaxpr((Tensor x) => x * s)(Tensor.Scalar(1f));
        Assert.Equal("{ lambda ; a:f32[]. let b:f32[] = mul a 3.0:f32[] in (b,) }", k.ToString());
        Assert.Empty(k.Consts);
        // a constant used twice is one constvar
        var t = Jax.MakeJaxpr((Tensor x) => x * c + c)(Np.Ones([3]));
        Assert.Equal("{ lambda a:f32[3]; b:f32[3]. let c:f32[3] = mul b a; d:f32[3] = add c a in (d,) }", t.ToString());
    }

    [Fact]
    public void VariableNamesContinuePastZ()
    {
        var j = Jax.MakeJaxpr((Tensor x) =>
        {
            for (int i = 0; i < 27; i++) x = Np.Sin(x);
            return x;
        })(Tensor.Scalar(1f));
        var text = j.ToString();
        Assert.Contains("    z:f32[] = sin y\n", text);
        Assert.Contains("    ba:f32[] = sin z\n", text);
        Assert.EndsWith("    bb:f32[] = sin ba\n  in (bb,) }", text);
        Assert.Equal(27, j.Jaxpr.Eqns.Count);
    }

    [Fact]
    public void AvalsOfInputsAndOutputs()
    {
        var j = Jax.MakeJaxpr((Tensor x, Tensor y) => Np.Sum(x * y, [1]))(Np.Ones([2, 3]), Np.Ones([3], DType.Float32));
        Assert.Equal(new[] { "f32[2,3]", "f32[3]" }, j.InAvals.Select(a => a.ToString()));
        Assert.Equal(new[] { "f32[2]" }, j.OutAvals.Select(a => a.ToString()));
        Assert.All(j.Jaxpr.Eqns, e => Assert.NotNull(e.Primitive));
        Assert.Equal(new[] { "broadcast_in_dim", "mul", "reduce_sum" }, j.Jaxpr.Eqns.Select(e => e.Primitive.Name));
    }

    private static Tensor F(Tensor x, Tensor y) => Np.Tanh(x) * y + Np.Sum(x * x) - Np.Exp(y) / 2;

    [Fact]
    public void AlphaEquivalentJaxprsAreEqualWithEqualHashes()
    {
        var a = Jax.MakeJaxpr<Tensor, Tensor, Tensor>(F)(Np.Ones([3]), Np.Ones([3]));
        var b = Jax.MakeJaxpr<Tensor, Tensor, Tensor>(F)(Np.Zeros([3]), Np.Full([3], 5));
        Assert.NotSame(a.Jaxpr, b.Jaxpr);
        Assert.Equal(a.Jaxpr, b.Jaxpr);
        Assert.Equal(a.Jaxpr.GetHashCode(), b.Jaxpr.GetHashCode());
        Assert.True(a.Jaxpr.Equals((object)b.Jaxpr));
        Assert.Equal(a.ToString(), b.ToString());
        // the same computation written differently
        var c = Jax.MakeJaxpr((Tensor p, Tensor q) => Np.Subtract(Np.Add(Np.Multiply(Np.Tanh(p), q), Np.Sum(Np.Multiply(p, p))), Np.Divide(Np.Exp(q), 2)))(Np.Ones([3]), Np.Ones([3]));
        Assert.Equal(a.Jaxpr, c.Jaxpr);
        Assert.Equal(a.Jaxpr.GetHashCode(), c.Jaxpr.GetHashCode());
        // jaxprs can key a dictionary
        var cache = new Dictionary<Jaxpr, int> { [a.Jaxpr] = 1 };
        Assert.True(cache.ContainsKey(c.Jaxpr));
    }

    [Fact]
    public void DifferentJaxprsAreNotEqual()
    {
        var baseJ = Jax.MakeJaxpr((Tensor x) => x * 2f)(Tensor.Scalar(1f)).Jaxpr;
        Assert.NotEqual(baseJ, Jax.MakeJaxpr((Tensor x) => x * 3f)(Tensor.Scalar(1f)).Jaxpr);          // literal value
        Assert.NotEqual(baseJ, Jax.MakeJaxpr((Tensor x) => x + 2f)(Tensor.Scalar(1f)).Jaxpr);          // primitive
        Assert.NotEqual(baseJ, Jax.MakeJaxpr((Tensor x) => x * 2f)(Tensor.Scalar(1.0)).Jaxpr);         // dtype
        Assert.NotEqual(baseJ, Jax.MakeJaxpr((Tensor x) => x * 2f)(Np.Ones([1])).Jaxpr);              // shape
        var s0 = Jax.MakeJaxpr((Tensor x) => Np.Sum(x, [0]))(Np.Ones([2, 2])).Jaxpr;
        var s1 = Jax.MakeJaxpr((Tensor x) => Np.Sum(x, [1]))(Np.Ones([2, 2])).Jaxpr;
        Assert.NotEqual(s0, s1);                                                                          // params
        var sub1 = Jax.MakeJaxpr((Tensor x, Tensor y) => x - y)(Tensor.Scalar(1f), Tensor.Scalar(1f)).Jaxpr;
        var sub2 = Jax.MakeJaxpr((Tensor x, Tensor y) => y - x)(Tensor.Scalar(1f), Tensor.Scalar(1f)).Jaxpr;
        Assert.NotEqual(sub1, sub2);                                                                      // wiring
        Assert.False(baseJ.Equals(null));
    }

    [Fact]
    public void EvaluatingTheJaxprReproducesEagerResults()
    {
        var x = Np.Array(new[] { -1.5f, 0.25f, 2f });
        var y = Np.Array(new[] { 3f, -0.5f, 1f });
        var j = Jax.MakeJaxpr<Tensor, Tensor, Tensor>(F)(x, y);
        var staged = j.Call(x, y);
        Assert.Single(staged);
        Assert.Equal(F(x, y).ToArray<float>(), staged[0].ToArray<float>());
        Assert.Equal(F(y, x).ToArray<float>(), j.Call(y, x)[0].ToArray<float>());
        Assert.Equal(F(y, x).ToArray<float>(), JaxprEval.Eval(j.Jaxpr, [.. j.Consts], [y, x])[0].ToArray<float>());
        // with constants
        var c = Np.Array(new[] { 10f, 20f, 30f });
        var k = Jax.MakeJaxpr((Tensor t) => (t * c, Np.Max(t)))(x);
        var outs = k.Call(y);
        Assert.Equal(new[] { 30f, -10f, 30f }, outs[0].ToArray<float>());
        Assert.Equal(3f, outs[1].Item<float>());
    }

    [Fact]
    public void EvaluatingWithWrongInputsIsAnError()
    {
        var j = Jax.MakeJaxpr((Tensor x) => Np.Sin(x))(Np.Ones([3]));
        var e = Assert.Throws<ShapeError>(() => j.Call(Np.Ones([4])));
        Assert.Contains("f32[3]", e.Message);
        Assert.Contains("f32[4]", e.Message);
        Assert.Throws<ShapeError>(() => j.Call(Np.Ones([3], DType.Float64)));
        Assert.Throws<InvalidArgumentError>(() => j.Call(Np.Ones([3]), Np.Ones([3])));
    }

    [Fact]
    public void PytreeArgumentsAndResults()
    {
        var tuple = Jax.MakeJaxpr(((Tensor W, Tensor B) p) => p.W * p.B)((Np.Ones([2]), Np.Zeros([2])));
        Assert.Equal("{ lambda ; a:f32[2] b:f32[2]. let c:f32[2] = mul a b in (c,) }", tuple.ToString());
        var dict = Jax.MakeJaxpr((Dictionary<string, Tensor> d) => d["a"] - d["b"])(new Dictionary<string, Tensor> { ["b"] = Np.Ones([2]), ["a"] = Np.Zeros([2]) });
        Assert.Equal("{ lambda ; a:f32[2] b:f32[2]. let c:f32[2] = sub a b in (c,) }", dict.ToString()); // keys in sorted order
        var arr = Jax.MakeJaxpr((Tensor[] xs) => new[] { xs[2], xs[0] + xs[1] })([Np.Ones([1]), Np.Ones([1]), Tensor.Scalar(1)]);
        Assert.Equal("{ lambda ; a:f32[1] b:f32[1] c:i32[]. let d:f32[1] = add a b in (c, d) }", arr.ToString());
        var rec = Jax.MakeJaxpr((PtLinear l) => new PtLinear(Np.Tanh(l.W), l.B))(new PtLinear(Np.Ones([2, 2]), Np.Zeros([2])));
        Assert.Equal("{ lambda ; a:f32[2,2] b:f32[2]. let c:f32[2,2] = tanh a in (c, b) }", rec.ToString());
    }

    [Fact]
    public void ALiteralMustBeAConcreteScalar()
    {
        Assert.Throws<InvalidArgumentError>(() => new Literal(Np.Ones([2])));
        Assert.Equal("3:i32[]", new Literal(Tensor.Scalar(3)).ToString());
        Assert.Equal("2.5:f64[]", new Literal(Tensor.Scalar(2.5)).ToString());
        Assert.Equal("False:bool[]", new Literal(Tensor.Scalar(false)).ToString());
    }

    [Fact]
    public void ThreadsTraceIndependently()
    {
        // The trace stack is per thread: tracing on many threads at once, mixed with eager work, gives each its own jaxpr.
        var texts = new string[16];
        var sums = new float[16];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            texts[i] = Jax.MakeJaxpr((Tensor x) =>
            {
                var y = x;
                for (int k = 0; k < i % 3 + 1; k++) y = Np.Sin(y);
                return y;
            })(Np.Ones([i + 1])).ToString();
            sums[i] = (Np.Ones([i + 1]) * 2).Sum().Item<float>();
        });
        for (int i = 0; i < 16; i++)
        {
            Assert.StartsWith($"{{ lambda ; a:f32[{i + 1}]. let", texts[i]);
            Assert.Contains($"b:f32[{i + 1}] = sin a", texts[i]);
            Assert.Equal(i % 3 + 1, texts[i].Split(" = sin ").Length - 1);
            Assert.Equal(2f * (i + 1), sums[i]);
        }
    }
}
