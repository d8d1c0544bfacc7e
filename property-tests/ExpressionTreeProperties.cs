using FsCheck;
using FsCheck.Fluent;
using static Jx.Transforms;

namespace Jx.PropertyTests;

/// <summary>Random expression trees over one or two tensor variables (smooth unary maps with domain-safe wrappers,
/// broadcasting binary operations, reductions with and without keepDims, cumsum/softmax along axes, reshapes and
/// transposes): their gradients match finite differences and pass CheckGrads to order 2.</summary>
public class ExpressionTreeProperties
{
    /// <summary>Grad of sum(tree(x, y)) with respect to both variables equals central finite differences (float64,
    /// step 1e-6, rtol 1e-5).</summary>
    [Fact]
    public void GradEqualsFiniteDifferences()
    {
        Prop.ForAll(ExprCase.Arbitrary(nVars: 2, maxDepth: 4), c =>
        {
            var vars = c.Vars;
            var g = Grad<Tensor[]>(vs => c.Scalar(vs))(vars);
            Assert.Equal(vars.Length, g.Length);
            for (int k = 0; k < vars.Length; k++)
            {
                int kk = k;
                Tensor Partial(Tensor v) { var vs = (Tensor[])vars.Clone(); vs[kk] = v; return c.Scalar(vs); }
                var fd = AutodiffIdentityProperties.FiniteDifferenceGradient(Partial, c.Values[k], vars[k].Shape);
                AutodiffIdentityProperties.Close(g[k], fd, atol: 1e-6, rtol: 1e-5, $"Grad w.r.t. {VarExpr.Name(k)}", "central differences");
            }
        }).Check(PropConfig.Cases(40));
    }

    /// <summary>CheckGrads to order 2, forward and reverse, of the tree itself (a tensor-valued function of x and y).</summary>
    [Fact]
    public void CheckGradsOrderTwoBothModes()
    {
        Prop.ForAll(ExprCase.Arbitrary(nVars: 2, maxDepth: 3), c =>
            CheckGrads<Tensor[], Tensor>(c.Eval, c.Vars, order: 2, GradModes.Both, eps: OpCase.Eps)).Check(PropConfig.Cases(25));
    }

    /// <summary>For trees over one variable, forward and reverse mode give the same Jacobian (to 1e-10).</summary>
    [Fact]
    public void OneVariableJacfwdEqualsJacrev()
    {
        Prop.ForAll(ExprCase.Arbitrary(nVars: 1, maxDepth: 4), c =>
        {
            Func<Tensor, Tensor> f = x => c.Eval([x]);
            var x = c.Vars[0];
            AutodiffIdentityProperties.Close(Jacfwd(f)(x), Jacrev(f)(x), 1e-10, "Jacfwd", "Jacrev");
        }).Check(PropConfig.Cases(25));
    }

    /// <summary>The tree printer is readable: a fixed tree renders as infix/function notation with its adaptations.</summary>
    [Fact]
    public void TreesPrintReadably()
    {
        var x = new VarExpr(0, new Shape(3, 4));
        var y = new VarExpr(1, new Shape(1, 4));
        var tree = new ReduceExpr("sum", 1, true, new BinaryExpr("*", new UnaryExpr("tanh", -1, x), new UnaryExpr("log(1+a²)", -1, y)));
        Assert.Equal("sum((tanh(x) * log(1 + (y)²)), axis=1, keepdims)", tree.Render([new Shape(3, 4), new Shape(1, 4)]));
        Assert.Equal("sum((tanh(x) * log(1 + (fit(y, [1,4]))²)), axis=1, keepdims)", tree.Render([new Shape(3, 4), new Shape(3)]));
        Assert.Equal(new Shape(3, 1), tree.Shape);
        var c = new ExprCase(tree, [2, 1], [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2], [0.5, -0.5, 1.5]]);
        Assert.Equal(
            "f(x, y) = sum((tanh(x) * log(1 + (fit(y, [1,4]))²)), axis=1, keepdims)    (shape [3,1], 6 nodes)\n" +
            "    x = Tensor.FromArray(new double[] { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2 }, new Shape(3, 4))\n" +
            "    y = Tensor.FromArray(new double[] { 0.5, -0.5, 1.5 }, new Shape(3))", c.ToString());
        // fit(y, [1,4]) tiles y's values: [0.5, -0.5, 1.5, 0.5].
        Assert.Equal(new[] { 0.5, -0.5, 1.5, 0.5 }, y.Eval([Tensor.FromArray(new double[12], new Shape(3, 4)), Tensor.FromArray(new[] { 0.5, -0.5, 1.5 })]).ToArray<double>());
    }
}
