using static Jx.Transforms;

namespace Jx.Tests;

public class VmapTests
{
    [Fact]
    public void VmapOfDotIsRowwise()
    {
        var a = Np.Array(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var b = Np.Array(new float[,] { { 1, 0, 1 }, { 2, 1, 0 } });
        Assert.Equal(new float[] { 4, 13 }, Vmap(Np.Dot)(a, b).ToArray<float>());
    }

    [Fact]
    public void NestedVmapOfVdotIsMatmul()
    {
        var A = Np.Arange(6).Reshape(2, 3).AsType(DType.Float32);
        var B = Np.Arange(12).Reshape(3, 4).AsType(DType.Float32);
        Func<Tensor, Tensor, Tensor> vdot = Np.Vdot;
        var mm = Vmap(Vmap(vdot, inAxes: [0, null]), inAxes: [null, 1], outAxes: 1);
        Assert.Equal(A.Matmul(B).ToArray<float>(), mm(A, B).ToArray<float>());
    }

    [Fact]
    public void ConstantOutputIsBroadcast()
    {
        Assert.Equal(new float[] { 3, 3, 3, 3 }, Vmap((Tensor x) => (Tensor)3f)(Np.Ones([4])).ToArray<float>());
    }

    [Fact]
    public void PsumAndAxisIndexWithAxisName()
    {
        var x = Np.Arange(8).Reshape(2, 4);
        var r = Vmap((Tensor v) => v - Lax.Psum(v, "i"), axisName: "i")(x);
        Assert.Equal(new[] { -4, -5, -6, -7, 0, -1, -2, -3 }, r.ToArray<int>());
        var z = Vmap((Tensor v) => v - Lax.AxisIndex("i"), axisName: "i")(Np.Arange(10));
        Assert.Equal(new int[10], z.ToArray<int>());
        var m = Vmap((Tensor v) => v / Lax.Pmean(v, "i"), axisName: "i")(Np.Array(new float[] { 1, 3 }));
        Assert.Equal(new float[] { 0.5f, 1.5f }, m.ToArray<float>());
        var g = Vmap((Tensor v) => Lax.AllGather(v, "i").Sum(), axisName: "i")(Np.Array(new float[] { 1, 2, 3 }));
        Assert.Equal(new float[] { 6, 6, 6 }, g.ToArray<float>());
        Assert.Equal(new float[] { 3, 3, 3 }, Vmap((Tensor v) => Lax.Pmax(v, "i"), axisName: "i")(Np.Array(new float[] { 1, 3, 2 })).ToArray<float>());
    }

    [Fact]
    public void CollectivesInsideJitCondAndScanSeeTheNamedAxis()
    {
        // A sub-function batched by a rule (pjit, cond, scan) runs over the enclosing Vmap's axis, name included.
        var x = Np.Array(new double[] { 1, 2, 3 });
        Assert.Equal(new double[] { 6, 6, 6 }, Vmap(Jit((Tensor v) => Lax.Psum(v, "i")), axisName: "i")(x).ToArray<double>());
        Assert.Equal(new double[] { 1, 3, 5 }, Vmap(Jit((Tensor v) => v + Lax.AxisIndex("i").AsType(DType.Float64)), axisName: "i")(x).ToArray<double>());
        Assert.Equal(new double[] { 6, 6, 6 }, Vmap((Tensor v) => Lax.Cond<Tensor, Tensor>(v > 0, a => Lax.Psum(a, "i"), a => -a, v), axisName: "i")(x).ToArray<double>());
        // scan over each row, the carry adding the psum over rows of the current column: 1+3+5 + 2+4+6 = 21 for every row.
        var m = Np.Array(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } });
        var scanned = Vmap((Tensor row) => Lax.Scan<Tensor, Tensor, Tensor>((c, xi) => (c + Lax.Psum(xi, "i"), c), Np.Zeros([], DType.Float64), row).Carry, axisName: "i")(m);
        Assert.Equal(new double[] { 21, 21, 21 }, scanned.ToArray<double>());
        // Nested: Jit between an outer "i" and an inner "j" Vmap, psum over "i" of a value both batch: column sums.
        var cols = Vmap(Jit(Vmap((Tensor v) => Lax.Psum(v, "i"), axisName: "j")), axisName: "i")(m);
        Assert.Equal(new double[] { 9, 12, 9, 12, 9, 12 }, cols.ToArray<double>());
    }

    [Fact]
    public void DynamicSliceAndUpdateOfARank0OperandUnderVmap()
    {
        // A rank-0 operand has no start indices: the batch dim's start is the only one (this threw IndexOutOfRangeException,
        // and with it Jacfwd/Jacrev, which Vmap over the standard basis, of a function with such an update).
        var x = Np.Array(new double[] { 1, 2, 3 });
        Assert.Equal(new double[] { 1, 2, 3 }, Vmap((Tensor v) => Lax.DynamicSlice(v, [], []))(x).ToArray<double>());
        Assert.Equal(new double[] { 1, 2, 3 }, Vmap((Tensor v) => Lax.DynamicUpdateSlice(Np.Zeros([], DType.Float64), v, []))(x).ToArray<double>());
        Assert.Equal(new double[] { 2 }, Jacrev((Tensor v) => Lax.DynamicUpdateSlice(Np.Zeros([], DType.Float64), v * 2, []))(Tensor.Scalar(0.5)).Reshape(1).ToArray<double>());
        Assert.Equal(new double[] { 2 }, Jacfwd((Tensor v) => Lax.DynamicUpdateSlice(Np.Zeros([], DType.Float64), v * 2, []))(Tensor.Scalar(0.5)).Reshape(1).ToArray<double>());
    }

    [Fact]
    public void ErrorsNameArgumentsAxesAndScope()
    {
        var e = Assert.Throws<ShapeError>(() => Vmap((Tensor a, Tensor b) => a + b)(Np.Ones([3]), Np.Ones([4])));
        Assert.Contains("argument 0 of shape (3,) has size 3", e.Message);
        Assert.Contains("argument 1 of shape (4,) has size 4", e.Message);
        var e2 = Assert.Throws<AxisError>(() => Vmap((Tensor a) => a, inAxes: 2)(Np.Ones([3])));
        Assert.Contains("inAxes[0] = 2", e2.Message);
        var e3 = Assert.Throws<UnboundAxisNameError>(() => Vmap((Tensor a) => Lax.Psum(a, "j"), axisName: "i")(Np.Ones([3])));
        Assert.Contains("'j'", e3.Message);
        Assert.Contains("'i'", e3.Message);
    }

    [Fact]
    public void PerExampleGradientsMatchTheLoop()
    {
        var w = Np.Array(new double[,] { { 0.1, -0.2 }, { 0.3, 0.4 }, { -0.5, 0.6 } });
        var xs = Np.Array(new double[,] { { 1, 2, 3 }, { -1, 0.5, 2 }, { 0.3, 0.2, 0.1 }, { 2, -2, 1 } });
        Func<Tensor, Tensor, Tensor> loss = (wt, x) => Np.Sum(Np.Tanh(x.Matmul(wt)) * Np.Array(new double[] { 1, -2 }));
        var perEx = Vmap(Grad(loss), inAxes: [null, 0])(w, xs);
        Assert.Equal(new Shape(4, 3, 2), perEx.Shape);
        for (int i = 0; i < 4; i++)
            Assert.True(Np.AllClose(perEx[i], Grad(loss)(w, xs[i]), 1e-12, 1e-12));
        // Grad of the batch mean equals the mean of per-example gradients.
        var gMean = Grad((Tensor wt) => Np.Mean(Vmap((Tensor x) => loss(wt, x))(xs)))(w);
        Assert.True(Np.AllClose(gMean, Np.Mean(perEx, 0), 1e-12, 1e-12));
    }

    [Fact]
    public void VmapComposesWithJvpAndJacobians()
    {
        Func<Tensor, Tensor> f = x => Np.Sin(x) * x.Sum();
        var xs = Np.Array(new double[,] { { 0.1, 0.2 }, { 0.3, -0.4 }, { 1.0, 2.0 } });
        var jac = Vmap(Jacrev(f))(xs);
        for (int i = 0; i < 3; i++) Assert.True(Np.AllClose(jac[i], Jacfwd(f)(xs[i]), 1e-12, 1e-12));
        var tangents = Vmap((Tensor x) => Jvp(f, x, Np.OnesLike(x)).Tangent)(xs);
        for (int i = 0; i < 3; i++) Assert.True(Np.AllClose(tangents[i], Jvp(f, xs[i], Np.OnesLike(xs[i])).Tangent, 1e-12, 1e-12));
    }

    [Fact]
    public void BatchedIndexingGatherScatterAndDynamicSlice()
    {
        var x = Np.Arange(12).Reshape(3, 4).AsType(DType.Float32);
        var idx = Np.Array(new[] { 3, 0, 2 });
        var picked = Vmap((Tensor row, Tensor i) => Np.Take(row, i), inAxes: [0, 0])(x, idx);
        Assert.Equal(new float[] { 3, 4, 10 }, picked.ToArray<float>());
        var upd = Vmap((Tensor row, Tensor i) => row.At[i].Set(-1f), inAxes: [0, 0])(x, idx);
        Assert.Equal(new float[] { 0, 1, 2, -1, -1, 5, 6, 7, 8, 9, -1, 11 }, upd.ToArray<float>());
        var ds = Vmap((Tensor row, Tensor i) => Lax.DynamicSlice(row, [i], [2]), inAxes: [0, 0])(x, Np.Array(new[] { 1, 3, 0 }));
        Assert.Equal(new float[] { 1, 2, 6, 7, 8, 9 }, ds.ToArray<float>()); // start 3 is clamped to 2
        var batchedRows = Vmap((Tensor i) => x[i])(Np.Array(new[] { 2, 0 }));
        Assert.Equal(new float[] { 8, 9, 10, 11, 0, 1, 2, 3 }, batchedRows.ToArray<float>());
    }

    [Fact]
    public void OutAxesAndNegativeInAxes()
    {
        var x = Np.Arange(6).Reshape(2, 3);
        var r = Vmap((Tensor v) => v * 2, inAxes: -1, outAxes: 1)(x);
        Assert.Equal(new Shape(2, 3), r.Shape);
        Assert.Equal(new[] { 0, 2, 4, 6, 8, 10 }, r.ToArray<int>());
        var s = Vmap((Tensor v) => v.Sum(), inAxes: 1)(x);
        Assert.Equal(new[] { 3, 5, 7 }, s.ToArray<int>());
    }

    [Fact]
    public void CustomJvpSurvivesVmapInsideGrad()
    {
        var g = Grad((Tensor x) => Vmap((Tensor v) => Nn.Relu(v))(x).Sum())(Np.Array(new float[] { -1, 0, 2 }));
        Assert.Equal(new float[] { 0, 0, 1 }, g.ToArray<float>());
    }
}

public class CollectiveGradientTests
{
    [Fact]
    public void GradientsThroughCollectives()
    {
        // f_i(w_i) = w_i · psum(w): the cotangent flows through psum's transpose (a psum), giving 2·Σw for every member.
        var w = Np.Array(new double[] { 1, 2, 3 });
        var g = Transforms.Vmap((Tensor wi) => Transforms.Grad((Tensor v) => v * Lax.Psum(v, "i"))(wi), axisName: "i")(w);
        Assert.Equal(new double[] { 12, 12, 12 }, g.ToArray<double>());
        // all_gather: f_i = Σ_j gather(w)_j · c_j → d/dw_i = Σ over members of c_i = 3·c_i.
        var c = Np.Array(new double[] { 1, 10, 100 });
        var g2 = Transforms.Vmap((Tensor wi) => Transforms.Grad((Tensor v) => Np.Sum(Lax.AllGather(v, "i") * c))(wi), axisName: "i")(w);
        Assert.Equal(new double[] { 3, 30, 300 }, g2.ToArray<double>());
        // pmax: only the member holding the maximum gets the tangent, from every member's output.
        var g3 = Transforms.Vmap((Tensor wi) => Transforms.Grad((Tensor v) => Lax.Pmax(v, "i"))(wi), axisName: "i")(w);
        Assert.Equal(new double[] { 0, 0, 3 }, g3.ToArray<double>());
        var g4 = Transforms.Vmap((Tensor wi) => Transforms.Grad((Tensor v) => Lax.Pmin(v * v, "i"))(wi), axisName: "i")(w);
        Assert.Equal(new double[] { 6, 0, 0 }, g4.ToArray<double>());
        // Forward mode: the JVP of psum is the psum of the tangents.
        var t = Transforms.Vmap((Tensor wi) => Transforms.Jvp((Tensor v) => Lax.Psum(v * v, "i"), wi, Tensor.Scalar(1.0)).Tangent, axisName: "i")(w);
        Assert.Equal(new double[] { 12, 12, 12 }, t.ToArray<double>());
    }
}
