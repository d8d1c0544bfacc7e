namespace Jx.Tests;

/// <summary>Enumerates the primitive registry: every primitive has its abstract evaluation and eager kernel, every one has
/// a JVP rule or a declared reason why it is not differentiable, and every linear primitive has a transpose rule.</summary>
public class RegistryTests
{
    private static readonly string[] Required =
    [
        "neg", "abs", "sign", "floor", "ceil", "round", "exp", "exp2", "expm1", "log", "log1p", "sqrt", "rsqrt", "cbrt", "sin", "cos", "tan",
        "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "logistic", "erf", "erfc", "erf_inv", "lgamma", "digamma",
        "is_finite", "not", "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge",
        "nextafter", "select_n", "clamp", "convert_element_type", "bitcast_convert_type", "iota", "broadcast_in_dim", "reshape", "transpose",
        "squeeze", "expand_dims", "rev", "slice", "dynamic_slice", "dynamic_update_slice", "concatenate", "pad", "gather", "scatter", "scatter-add",
        "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or", "argmax", "argmin", "cumsum", "cumprod", "cummax",
        "sort", "top_k", "dot_general", "conv_general_dilated", "reduce_window_max", "reduce_window_sum", "threefry2x32",
    ];

    /// <summary>Primitives that are linear in (some of) their inputs and so must be transposable for reverse mode.</summary>
    private static readonly string[] Linear =
    [
        "neg", "add", "sub", "mul", "div", "convert_element_type", "reduce_sum", "broadcast_in_dim", "reshape", "transpose", "squeeze",
        "expand_dims", "rev", "slice", "pad", "concatenate", "select_n", "dot_general", "gather", "scatter-add", "scatter", "dynamic_slice",
        "dynamic_update_slice", "cumsum", "conv_general_dilated", "reduce_window_sum", "custom_lin", "remat_lin",
    ];

    [Fact]
    public void EveryRequiredPrimitiveIsRegistered()
    {
        var names = PrimitiveRegistry.All.Select(p => p.Name).ToHashSet();
        var missing = Required.Where(r => !names.Contains(r)).ToArray();
        Assert.True(missing.Length == 0, "missing primitives: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryPrimitiveHasAbstractEvalAndKernel()
    {
        foreach (var p in PrimitiveRegistry.All)
        {
            Assert.NotNull(p.AbstractEval);
            Assert.NotNull(p.Kernel);
        }
    }

    [Fact]
    public void EveryPrimitiveHasAJvpOrADeclaredReason()
    {
        _ = Ad.Jvps; // load the rules (and the primitives Jx.Transforms defines)
        var missing = PrimitiveRegistry.All.Where(p => !Ad.Jvps.ContainsKey(p) && !Ad.NonDifferentiable.ContainsKey(p)).Select(p => p.Name).ToArray();
        Assert.True(missing.Length == 0, "primitives without a JVP rule or a non-differentiable declaration: " + string.Join(", ", missing));
        var both = PrimitiveRegistry.All.Where(p => Ad.Jvps.ContainsKey(p) && Ad.NonDifferentiable.ContainsKey(p)).Select(p => p.Name).ToArray();
        Assert.True(both.Length == 0, "declared both differentiable and not: " + string.Join(", ", both));
    }

    [Fact]
    public void EveryLinearPrimitiveHasATranspose()
    {
        _ = Ad.Transposes;
        var byName = PrimitiveRegistry.All.ToDictionary(p => p.Name);
        var missing = Linear.Where(n => !byName.TryGetValue(n, out var p) || !Ad.Transposes.ContainsKey(p)).ToArray();
        Assert.True(missing.Length == 0, "linear primitives without a transpose rule: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryPrimitiveHasABatchingRule()
    {
        _ = Batching.Rules;
        var noInputs = new[] { "iota", "axis_index" };
        var missing = PrimitiveRegistry.All.Where(p => !Batching.Rules.ContainsKey(p) && !noInputs.Contains(p.Name)).Select(p => p.Name).ToArray();
        Assert.True(missing.Length == 0, "primitives without a batching rule: " + string.Join(", ", missing));
    }
}
