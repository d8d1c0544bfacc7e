using System.Globalization;
using System.Text;

namespace Jx;

/// <summary>Turns a <see cref="Kernel"/> into C# source: a loop over the kernel's (collapsed) loop space whose inner
/// dimension runs over Vector512 lanes with a scalar tail when every operation has a vector form, and scalar code
/// otherwise. Reductions vectorize over the reduced dimension or over the kept inner dimension, whichever is
/// contiguous. The generated method is <c>Run(nint[] pointers, long start, long end)</c> over a range of outputs.</summary>
internal static class CodeGen
{
    private static readonly HashSet<string> ScalarOps =
    [
        "neg", "abs", "sign", "floor", "ceil", "round", "exp", "exp2", "expm1", "log", "log1p", "sqrt", "rsqrt", "cbrt", "sin", "cos", "tan",
        "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "logistic", "erf", "erfc", "erf_inv", "lgamma", "digamma",
        "is_finite", "not", "square", "integer_pow", "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter", "and", "or",
        "xor", "shift_left", "shift_right_logical", "shift_right_arithmetic", "eq", "ne", "lt", "le", "gt", "ge", "select_n", "clamp",
        "convert_element_type",
    ];

    private static readonly HashSet<string> VectorOps =
    [
        "neg", "abs", "floor", "ceil", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "logistic", "square", "integer_pow", "add", "sub",
        "mul", "div", "max", "min", "and", "or", "xor", "not", "eq", "ne", "lt", "le", "gt", "ge", "select_n", "clamp", "convert_element_type",
        "is_finite",
    ];

    public static bool Supports(string op) => ScalarOps.Contains(op);

    public static Expr MakeOp(Eqn e, Expr[] args)
    {
        var name = e.Primitive.Name;
        int param = name switch { "integer_pow" => e.Params.Int("y"), "round" => e.Params.Int("rounding_method"), _ => 0 };
        return new OpExpr(name, args, e.Outputs[0].Aval.DType, param);
    }

    internal static string Storage(DType d) => d switch
    {
        DType.Float32 => "float", DType.Float64 => "double", DType.Int32 => "int", DType.Int64 => "long", DType.UInt32 => "uint",
        DType.Bool => "bool", DType.Float16 => "Half", DType.BFloat16 => "Jx.BFloat16", _ => throw new InvalidOperationException(),
    };

    internal static string Compute(DType d) => d.IsHalf() ? "float" : Storage(d);
    private static string M(DType d) => Compute(d) == "float" ? "MathF" : "Math";

    private static string Lit(double v, DType d)
    {
        string c = Compute(d);
        if (d == DType.Bool) return v != 0 ? "true" : "false";
        if (c == "float")
        {
            if (double.IsNaN(v)) return "float.NaN";
            if (double.IsPositiveInfinity(v)) return "float.PositiveInfinity";
            if (double.IsNegativeInfinity(v)) return "float.NegativeInfinity";
            return ((float)v).ToString("R", CultureInfo.InvariantCulture) + "f";
        }
        if (c == "double")
        {
            if (double.IsNaN(v)) return "double.NaN";
            if (double.IsPositiveInfinity(v)) return "double.PositiveInfinity";
            if (double.IsNegativeInfinity(v)) return "double.NegativeInfinity";
            return v.ToString("R", CultureInfo.InvariantCulture) + "d";
        }
        return c switch { "int" => $"{(int)v}", "long" => $"{(long)v}L", "uint" => $"{(uint)v}u", _ => v.ToString(CultureInfo.InvariantCulture) };
    }

    // ---------------- expression emission ----------------

    /// <summary>Emits an expression DAG as one local per node. <paramref name="prefix"/> names the locals; values already
    /// computed outside the loop (hoisted) are passed in <paramref name="known"/>.</summary>
    private sealed class Emitter(StringBuilder sb, bool vector, DType vt, Func<View, string> read, string indent,
        string prefix = "t", IReadOnlyDictionary<Expr, string>? known = null)
    {
        private readonly Dictionary<Expr, string> _memo = known is null ? [] : new(known);
        private int _n;

        /// <summary>The locals emitted so far.</summary>
        public IReadOnlyDictionary<Expr, string> Emitted => _memo;

        public string Emit(Expr e)
        {
            if (_memo.TryGetValue(e, out var name)) return name;
            string code = e switch
            {
                InputExpr i => read(i.View),
                IotaExpr i => read(i.View),
                ConstExpr c => vector
                    ? (c.DType == DType.Bool ? $"({(c.Value != 0 ? $"Vector512<{Compute(vt)}>.AllBitsSet" : $"Vector512<{Compute(vt)}>.Zero")})" : $"Vector512.Create({Lit(c.Value, vt)})")
                    : c.Exact is long exact ? (c.DType == DType.Int64 ? $"{exact}L" : Lit(exact, c.DType))
                    : c.DType.IsHalf() ? $"(float)({(c.DType == DType.Float16 ? "Half" : "Jx.BFloat16")})({Lit(c.Value, DType.Float32)})" : Lit(c.Value, c.DType),
                OpExpr o => vector ? VectorOp(o, o.Args.Select(Emit).ToArray()) : RoundHalf(o, ScalarOp(o, o.Args.Select(Emit).ToArray())),
                _ => throw new InvalidOperationException(),
            };
            name = $"{prefix}{_n++}";
            sb.Append(indent).Append("var ").Append(name).Append(" = ").Append(code).Append(";\n");
            _memo[e] = name;
            return name;
        }

        /// <summary>Half-precision values are computed in float32 and rounded to their type after every operation, as the
        /// eager kernels do (a conversion from float64 rounds once, directly).</summary>
        private static string RoundHalf(OpExpr o, string code)
        {
            if (!o.DType.IsHalf()) return code;
            bool fromDouble = o.Op == "convert_element_type" && o.Args[0].DType == DType.Float64;
            string inner = fromDouble ? code.Replace("JitRuntime.ToF32(", "JitRuntime.ToF64(") : code;
            return o.DType == DType.Float16
                ? $"(float)(Half)({inner})"
                : fromDouble ? $"(float)JitRuntime.ToBF16({inner})" : $"(float)(Jx.BFloat16)({inner})";
        }

        private string ScalarOp(OpExpr o, string[] a)
        {
            var t = o.DType;
            var at = o.Args.Length > 0 ? o.Args[0].DType : t;
            string m = M(at.IsFloating() ? at : DType.Float64);
            string ct = Compute(t);
            bool intType = at.IsInteger();
            switch (o.Op)
            {
                case "neg": return at == DType.UInt32 ? $"unchecked(0u - {a[0]})" : intType ? $"unchecked(-{a[0]})" : $"(-{a[0]})";
                case "abs": return $"JitRuntime.Abs({a[0]})";
                case "sign": return $"JitRuntime.Sign({a[0]})";
                case "floor": return $"{m}.Floor({a[0]})";
                case "ceil": return $"{m}.Ceiling({a[0]})";
                case "round": return $"JitRuntime.Round({a[0]}, {o.Param})";
                case "exp": return $"{m}.Exp({a[0]})";
                case "exp2": return $"{ct}.Exp2({a[0]})";
                case "expm1": return $"({ct})SpecialFunctions.Expm1({a[0]})";
                case "log": return $"{m}.Log({a[0]})";
                case "log1p": return $"({ct})SpecialFunctions.Log1p({a[0]})";
                case "sqrt": return $"{m}.Sqrt({a[0]})";
                case "rsqrt": return $"({Lit(1, t)} / {m}.Sqrt({a[0]}))";
                case "cbrt": return $"{m}.Cbrt({a[0]})";
                case "sin": case "cos": case "tan": case "asin": case "acos": case "atan": case "sinh": case "cosh": case "tanh": case "asinh": case "acosh": case "atanh":
                    return $"{m}.{char.ToUpperInvariant(o.Op[0])}{o.Op[1..]}({a[0]})";
                case "logistic": return $"JitRuntime.Logistic({a[0]})";
                case "erf": return $"({ct})SpecialFunctions.Erf({a[0]})";
                case "erfc": return $"({ct})SpecialFunctions.Erfc({a[0]})";
                case "erf_inv": return at == DType.Float64 ? $"SpecialFunctions.ErfInv({a[0]})" : $"({ct})SpecialFunctions.ErfInvSingle((float){a[0]})";
                case "lgamma": return $"({ct})SpecialFunctions.LGamma({a[0]})";
                case "digamma": return $"({ct})SpecialFunctions.Digamma({a[0]})";
                case "is_finite": return $"{Compute(at)}.IsFinite({a[0]})";
                case "not": return at == DType.Bool ? $"(!{a[0]})" : $"(~{a[0]})";
                case "square": return intType ? $"unchecked({a[0]} * {a[0]})" : $"({a[0]} * {a[0]})";
                case "integer_pow": return $"JitRuntime.IPow({a[0]}, {o.Param})";
                case "add": return intType ? $"unchecked({a[0]} + {a[1]})" : $"({a[0]} + {a[1]})";
                case "sub": return intType ? $"unchecked({a[0]} - {a[1]})" : $"({a[0]} - {a[1]})";
                case "mul": return intType ? $"unchecked({a[0]} * {a[1]})" : $"({a[0]} * {a[1]})";
                case "div": return $"JitRuntime.Div({a[0]}, {a[1]})";
                case "rem": return $"JitRuntime.Rem({a[0]}, {a[1]})";
                case "pow": return $"{m}.Pow({a[0]}, {a[1]})";
                case "max": return $"JitRuntime.Max({a[0]}, {a[1]})";
                case "min": return $"JitRuntime.Min({a[0]}, {a[1]})";
                case "atan2": return $"{m}.Atan2({a[0]}, {a[1]})";
                case "nextafter": return $"JitRuntime.NextAfter({a[0]}, {a[1]})";
                case "and": return $"({a[0]} & {a[1]})";
                case "or": return $"({a[0]} | {a[1]})";
                case "xor": return $"({a[0]} ^ {a[1]})";
                case "shift_left": return $"JitRuntime.ShiftLeft({a[0]}, {a[1]})";
                case "shift_right_logical": return $"JitRuntime.ShiftRightLogical({a[0]}, {a[1]})";
                case "shift_right_arithmetic": return $"JitRuntime.ShiftRightArithmetic({a[0]}, {a[1]})";
                case "eq": return $"({a[0]} == {a[1]})";
                case "ne": return $"({a[0]} != {a[1]})";
                case "lt": return at == DType.Bool ? $"(!{a[0]} & {a[1]})" : $"({a[0]} < {a[1]})";
                case "le": return at == DType.Bool ? $"(!{a[0]} | {a[1]})" : $"({a[0]} <= {a[1]})";
                case "gt": return at == DType.Bool ? $"({a[0]} & !{a[1]})" : $"({a[0]} > {a[1]})";
                case "ge": return at == DType.Bool ? $"({a[0]} | !{a[1]})" : $"({a[0]} >= {a[1]})";
                case "select_n":
                    if (o.Args[0].DType == DType.Bool) return $"({a[0]} ? {a[2]} : {a[1]})";
                    var sel = new StringBuilder("(");
                    for (int i = 1; i < a.Length - 1; i++) sel.Append($"{a[0]} <= {i - 1} ? {a[i]} : ");
                    return sel.Append(a[^1]).Append(')').ToString();
                case "clamp": return $"JitRuntime.Min(JitRuntime.Max({a[1]}, {a[0]}), {a[2]})";
                case "convert_element_type":
                    return Compute(t) switch
                    {
                        "float" => $"JitRuntime.ToF32({a[0]})", "double" => $"JitRuntime.ToF64({a[0]})", "int" => $"JitRuntime.ToI32({a[0]})",
                        "long" => $"JitRuntime.ToI64({a[0]})", "uint" => $"JitRuntime.ToU32({a[0]})", "bool" => $"JitRuntime.ToBool({a[0]})",
                        _ => throw new InvalidOperationException(),
                    };
                default: throw new NotSupportedException($"no code generation for '{o.Op}'");
            }
        }

        private string VectorOp(OpExpr o, string[] a)
        {
            string V = $"Vector512<{Compute(vt)}>";
            switch (o.Op)
            {
                case "neg": return $"(-{a[0]})";
                case "abs": return $"Vector512.Abs({a[0]})";
                case "floor": return $"Vector512.Floor({a[0]})";
                case "ceil": return $"Vector512.Ceiling({a[0]})";
                case "exp": return $"JitRuntime.Exp({a[0]})";
                case "log": return $"Vector512.Log({a[0]})";
                case "sqrt": return $"Vector512.Sqrt({a[0]})";
                case "rsqrt": return $"({V}.One / Vector512.Sqrt({a[0]}))";
                case "sin": return $"Vector512.Sin({a[0]})";
                case "cos": return $"Vector512.Cos({a[0]})";
                case "tanh": return $"JitRuntime.Tanh({a[0]})";
                case "logistic": return $"JitRuntime.Logistic({a[0]})";
                case "square": return $"({a[0]} * {a[0]})";
                case "integer_pow": return $"JitRuntime.IPow({a[0]}, {o.Param})";
                case "add": return $"({a[0]} + {a[1]})";
                case "sub": return $"({a[0]} - {a[1]})";
                case "mul": return $"({a[0]} * {a[1]})";
                case "div": return $"({a[0]} / {a[1]})";
                case "max": return $"JitRuntime.Max({a[0]}, {a[1]})";
                case "min": return $"JitRuntime.Min({a[0]}, {a[1]})";
                case "and": return $"({a[0]} & {a[1]})";
                case "or": return $"({a[0]} | {a[1]})";
                case "xor": return $"({a[0]} ^ {a[1]})";
                case "not": return $"(~{a[0]})";
                case "eq": return $"Vector512.Equals({a[0]}, {a[1]})";
                case "ne": return $"(~Vector512.Equals({a[0]}, {a[1]}))";
                case "lt": return $"Vector512.LessThan({a[0]}, {a[1]})";
                case "le": return $"Vector512.LessThanOrEqual({a[0]}, {a[1]})";
                case "gt": return $"Vector512.GreaterThan({a[0]}, {a[1]})";
                case "ge": return $"Vector512.GreaterThanOrEqual({a[0]}, {a[1]})";
                case "select_n": return $"Vector512.ConditionalSelect({a[0]}, {a[2]}, {a[1]})";
                case "is_finite": return $"Vector512.Equals({a[0]} - {a[0]}, {V}.Zero)";
                case "clamp": return $"JitRuntime.Min(JitRuntime.Max({a[1]}, {a[0]}), {a[2]})";
                case "convert_element_type":
                    // bool → float: 1 or 0 per lane; float → bool: the lane mask of x ≠ 0 (NaN is true, −0 false).
                    return o.Args[0].DType == DType.Bool ? $"Vector512.ConditionalSelect({a[0]}, {V}.One, {V}.Zero)"
                         : o.DType == DType.Bool ? $"Vector512.OnesComplement(Vector512.Equals({a[0]}, {V}.Zero))" : a[0];
                default: throw new NotSupportedException($"no vector code for '{o.Op}'");
            }
        }
    }

    /// <summary>Whether every node of the kernel has a vector form in one float type (bool nodes become lane masks).
    /// Subexpressions in <paramref name="hoisted"/> are computed before the loop in scalar code: only their own type
    /// counts (a lane value or a mask), not their operations.</summary>
    private static bool Vectorizable(Kernel k, out DType vt, IReadOnlySet<Expr>? hoisted = null)
    {
        vt = k.Outputs[0].Value.DType;
        if (vt is not (DType.Float32 or DType.Float64)) return false;
        var t = vt;
        bool ok = true;
        var stack = new Stack<Expr>(k.Outputs.Select(o => o.Value));
        var seen = new HashSet<Expr>();
        while (stack.Count > 0 && ok)
        {
            var e = stack.Pop();
            if (!seen.Add(e)) continue;
            if (hoisted is not null && hoisted.Contains(e))
            {
                ok = e.DType == t || e.DType == DType.Bool;
                continue;
            }
            switch (e)
            {
                case InputExpr i: ok = i.View.DType == t; break;
                case IotaExpr io: ok = io.DType == t; break;
                case ConstExpr c: ok = c.DType == t || c.DType == DType.Bool; break;
                case OpExpr o:
                    ok = VectorOps.Contains(o.Op) && (o.DType == t || o.DType == DType.Bool);
                    if (o.Op == "convert_element_type") ok &= o.Args[0].DType == t || o.Args[0].DType == DType.Bool;
                    if (o.Op is "eq" or "ne" or "lt" or "le" or "gt" or "ge" or "is_finite") ok &= o.Args[0].DType == t;
                    if (o.Op is "and" or "or" or "xor" or "not") ok &= o.DType == DType.Bool;
                    if (o.Op == "select_n") ok &= o.Args[0].DType == DType.Bool;
                    foreach (var a in o.Args) stack.Push(a);
                    break;
            }
        }
        return ok;
    }

    // ---------------- dimension collapsing ----------------

    /// <summary>Merges adjacent loop dims whose reads are all contiguous across them (and drops size-1 dims). Reads are
    /// given by position (their strides over the loop dims; two reads may have equal strides) and so are the results.</summary>
    private static (int[] Shape, int[][] Strides) Collapse(int[] shape, IReadOnlyList<int[]> reads, bool[] keepBoundary)
    {
        var dims = new List<int>(shape);
        var strides = reads.Select(r => new List<int>(r)).ToList();
        var bounds = new List<bool>(keepBoundary);
        for (int d = dims.Count - 1; d >= 0; d--)
            if (dims[d] == 1 && dims.Count > 1)
            {
                dims.RemoveAt(d); bounds.RemoveAt(d);
                foreach (var st in strides) st.RemoveAt(d);
            }
        for (int d = dims.Count - 2; d >= 0; d--)
        {
            if (bounds[d + 1]) continue;
            int inner = dims[d + 1];
            if (!strides.All(st => (long)st[d] == (long)st[d + 1] * inner)) continue;
            dims[d] *= inner;
            dims.RemoveAt(d + 1); bounds.RemoveAt(d + 1);
            foreach (var st in strides) st.RemoveAt(d);
        }
        if (dims.Count == 0) { dims.Add(1); foreach (var st in strides) st.Add(0); }
        return (dims.ToArray(), strides.Select(st => st.ToArray()).ToArray());
    }

    // ---------------- kernels ----------------

    /// <summary>Generates the method body of a kernel; <paramref name="slots"/> receives the buffer slot of each pointer parameter.</summary>
    public static string Generate(Kernel k, string method, out List<int> slots)
    {
        var views = k.Reads().ToList();
        slots = views.Where(v => v.Slot >= 0).Select(v => v.Slot).Concat(k.Outputs.Select(o => o.Slot)).Distinct().ToList();
        return k.Reduction is null ? Elementwise(k, method, views, slots) : Reduction(k, method, views, slots);
    }

    private static string Pointers(List<int> slots, List<View> views, Kernel k)
    {
        var sb = new StringBuilder();
        var types = new Dictionary<int, DType>();
        foreach (var v in views) if (v.Slot >= 0) types[v.Slot] = v.DType;
        foreach (var o in k.Outputs) types[o.Slot] = o.Value.DType;
        for (int i = 0; i < slots.Count; i++)
            sb.Append($"        {Storage(types[slots[i]])}* p{slots[i]} = ({Storage(types[slots[i]])}*)P[{i}];\n");
        return sb.ToString();
    }

    private static string ReadScalar(View v, int viewIndex, string inner, int innerStride)
    {
        string idx = innerStride == 0 ? $"o{viewIndex}" : innerStride == 1 ? $"o{viewIndex} + {inner}" : $"o{viewIndex} + (long){inner} * {innerStride}";
        if (v.Slot < 0) return IotaValue(v.DType, idx); // a fused iota: the index is the value
        var raw = $"p{v.Slot}[{idx}]";
        return v.DType.IsHalf() ? $"(float){raw}" : raw;
    }

    /// <summary>A vector of the lanes of view <paramref name="v"/> (the kernel's read number <paramref name="vi"/>) at
    /// its offset plus <paramref name="at"/>: consecutive elements when it <paramref name="moves"/> along the vectorized
    /// dimension (stride 1), else its one element broadcast. A fused iota's lanes are its indices.</summary>
    private static string VectorRead(View v, int vi, bool moves, string at)
    {
        string o = at.Length == 0 ? $"o{vi}" : $"o{vi} + {at}";
        if (v.Slot < 0)
        {
            var T = Compute(v.DType);
            if (!moves) return $"Vector512.Create(({T})(o{vi}))";
            // The lanes' indices are formed as integers and converted once, as the scalar path converts each index
            // (adding lane numbers to a float base would round twice past 2^24).
            return T == "double"
                ? $"Vector512.ConvertToDouble(Vector512.Create((long)({o})) + Vector512<long>.Indices)"
                : $"Vector512.ConvertToSingle(Vector512.Create((int)({o})) + Vector512<int>.Indices)";
        }
        return moves ? $"Vector512.Load(p{v.Slot} + {o})" : $"Vector512.Create(p{v.Slot}[o{vi}])";
    }

    /// <summary>An iota's value at index <paramref name="idx"/>: the index in the iota's type (a half-precision iota is
    /// rounded to its type, as eager iota is, then computed in float).</summary>
    private static string IotaValue(DType t, string idx) => t switch
    {
        DType.Float16 => $"(float)(Half)(float)({idx})",
        DType.BFloat16 => $"(float)(Jx.BFloat16)(float)({idx})",
        _ => $"({Compute(t)})({idx})",
    };

    private static string Store(DType t, string value) => t switch
    {
        DType.Float16 => $"(Half){value}",
        DType.BFloat16 => $"(Jx.BFloat16){value}",
        _ => value,
    };

    /// <summary>Whether an elementwise kernel's generated loop runs over Vector512 lanes (every operation outside its
    /// <see cref="InvariantRoots(Kernel)"/> has a vector form in one float type, and every read moves by 0 or 1 element along
    /// the collapsed inner dimension).</summary>
    internal static bool IsVectorized(Kernel k) => ElementwiseLoop(k, k.Reads().ToList(), InvariantRoots(k)).Vector;

    /// <summary>An elementwise kernel's loop: its collapsed shape, each read's strides over it, and whether it runs over
    /// vector lanes of type <c>Vt</c> (with <paramref name="invariant"/> computed before the loop).</summary>
    private static (int[] Shape, int[][] Strides, bool Vector, DType Vt) ElementwiseLoop(Kernel k, List<View> views, List<OpExpr> invariant)
    {
        var (shape, collapsed) = Collapse(k.LoopShape, views.Select(v => v.Strides).ToList(), new bool[k.LoopShape.Length]);
        bool vec = Vectorizable(k, out var vt, invariant.ToHashSet<Expr>()) && collapsed.All(st => st[shape.Length - 1] is 0 or 1);
        return (shape, collapsed, vec, vt);
    }

    /// <summary>The kernel-invariant parts of an elementwise kernel: the largest operation subtrees that read only
    /// elements every loop index shares (views whose strides are all 0, such as a broadcast scalar) and constants. An
    /// optimizer's bias correction 1 − β^t is one. The kernel computes them once per call, before its loop, in scalar
    /// code, so an operation among them that has no vector form (pow) does not keep the loop scalar, and nothing among
    /// them is recomputed per element.</summary>
    internal static List<OpExpr> InvariantRoots(Kernel k) => InvariantRoots(k.Outputs.Select(o => o.Value),
        leaf => leaf is InputExpr i ? i.View.Strides.All(st => st == 0) : leaf is IotaExpr io && io.View.Strides.All(st => st == 0));

    /// <summary>The largest operation subtrees of <paramref name="values"/> whose leaves are constants or reads that
    /// <paramref name="fixedRead"/> says do not change over the loop in question (an input or a fused iota); the code
    /// generators compute them once, before that loop.</summary>
    private static List<OpExpr> InvariantRoots(IEnumerable<Expr> values, Func<Expr, bool> fixedRead)
    {
        var memo = new Dictionary<Expr, bool>();
        bool Invariant(Expr e)
        {
            if (memo.TryGetValue(e, out var known)) return known;
            bool r = e switch
            {
                InputExpr or IotaExpr => fixedRead(e),
                ConstExpr => true,
                OpExpr o => o.Args.All(Invariant),
                _ => false,
            };
            memo[e] = r;
            return r;
        }
        var roots = new List<OpExpr>();
        var seen = new HashSet<Expr>();
        var stack = new Stack<Expr>(values);
        while (stack.Count > 0)
        {
            if (stack.Pop() is not OpExpr o || !seen.Add(o)) continue;
            if (Invariant(o)) roots.Add(o);
            else foreach (var a in o.Args) stack.Push(a);
        }
        return roots;
    }

    /// <summary>Emits the <paramref name="roots"/> (see <see cref="InvariantRoots(Kernel)"/>) in scalar code before the loop;
    /// returns the locals that hold them, in scalar form and (for a vectorized loop over lanes of
    /// <paramref name="vt"/>) as vectors of lanes or masks.</summary>
    private static (Dictionary<Expr, string> Scalar, Dictionary<Expr, string> Vector) EmitInvariants(StringBuilder sb, List<OpExpr> roots, bool vec, DType vt)
    {
        string Read(View v) => v.Slot < 0 ? IotaValue(v.DType, v.Offset.ToString(CultureInfo.InvariantCulture))
            : v.DType.IsHalf() ? $"(float)p{v.Slot}[{v.Offset}]" : $"p{v.Slot}[{v.Offset}]";
        // An empty range reads nothing (a zero-size loop's buffers may have no element to read).
        if (roots.Count > 0) sb.Append("        if (s >= e) return;\n");
        var em = new Emitter(sb, false, DType.Float32, Read, "        ", "hs");
        var scalar = new Dictionary<Expr, string>();
        var vector = new Dictionary<Expr, string>();
        string V = $"Vector512<{Compute(vt)}>";
        for (int i = 0; i < roots.Count; i++)
        {
            var r = roots[i];
            scalar[r] = em.Emit(r);
            if (!vec) continue;
            string lanes = r.DType == DType.Bool ? $"({scalar[r]} ? {V}.AllBitsSet : {V}.Zero)" : $"Vector512.Create({scalar[r]})";
            sb.Append($"        var hv{i} = {lanes};\n");
            vector[r] = $"hv{i}";
        }
        return (scalar, vector);
    }

    private static string Elementwise(Kernel k, string method, List<View> views, List<int> slots)
    {
        var invariant = InvariantRoots(k);
        var (shape, collapsed, vec, vt) = ElementwiseLoop(k, views, invariant);
        var strides = views.Select((v, i) => (v, collapsed[i])).ToDictionary(x => x.v, x => x.Item2); // views are distinct
        int r = shape.Length;
        int inner = shape[r - 1];
        var sb = new StringBuilder();
        sb.Append($"    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]\n    public static unsafe void {method}(nint[] P, long s, long e)\n    {{\n");
        sb.Append(Pointers(slots, views, k));
        var (scalarKnown, vectorKnown) = EmitInvariants(sb, invariant, vec, vt);
        sb.Append("        long rem = s;\n");
        for (int d = r - 1; d >= 0; d--) sb.Append($"        int i{d} = (int)(rem % {shape[d]}); rem /= {shape[d]};\n");
        sb.Append("        while (s < e)\n        {\n");
        sb.Append($"            int len = (int)Math.Min({inner} - i{r - 1}, e - s);\n");
        for (int v = 0; v < views.Count; v++)
        {
            var terms = Enumerable.Range(0, r).Where(d => strides[views[v]][d] != 0).Select(d => $"(long)i{d} * {strides[views[v]][d]}");
            sb.Append($"            long o{v} = {views[v].Offset}{string.Concat(terms.Select(t => " + " + t))};\n");
        }
        sb.Append("            int j = 0;\n");
        if (vec)
        {
            var T = Compute(vt);
            sb.Append($"            for (; j <= len - Vector512<{T}>.Count; j += Vector512<{T}>.Count)\n            {{\n");
            var em = new Emitter(sb, true, vt, v =>
            {
                int vi = views.IndexOf(v);
                return VectorRead(v, vi, strides[v][r - 1] != 0, "j");
            }, "                ", known: vectorKnown);
            // Every output of the element is computed before any is stored: an output may be written over a buffer that
            // a later output reads element for element (a donated input of a multi-output kernel).
            var vectors = k.Outputs.Select(o => em.Emit(o.Value)).ToList();
            for (int o = 0; o < k.Outputs.Count; o++)
                sb.Append($"                Vector512.Store({vectors[o]}, p{k.Outputs[o].Slot} + s + j);\n");
            sb.Append("            }\n");
        }
        sb.Append("            for (; j < len; j++)\n            {\n");
        var se = new Emitter(sb, false, DType.Float32, v => ReadScalar(v, views.IndexOf(v), "j", strides[v][r - 1]), "                ", known: scalarKnown);
        var scalars = k.Outputs.Select(o => se.Emit(o.Value)).ToList();
        for (int o = 0; o < k.Outputs.Count; o++)
            sb.Append($"                p{k.Outputs[o].Slot}[s + j] = {Store(k.Outputs[o].Value.DType, scalars[o])};\n");
        sb.Append("            }\n");
        AppendAdvance(sb, shape);
        return sb.ToString();
    }

    /// <summary>Closes a kernel's outer while loop: moves past the finished run of the innermost index, resets it and
    /// carries into the outer indices i0..i(r−2) of <paramref name="shape"/>, then closes the loop and the method.</summary>
    private static void AppendAdvance(StringBuilder sb, int[] shape)
    {
        int r = shape.Length;
        sb.Append("            s += len;\n");
        sb.Append($"            i{r - 1} = 0;\n");
        if (r >= 2)
        {
            sb.Append($"            if (++i{r - 2} >= {shape[r - 2]})\n            {{\n                i{r - 2} = 0;\n");
            for (int d = r - 3; d >= 0; d--)
                sb.Append($"                if (++i{d} >= {shape[d]}) i{d} = 0; else goto carried;\n");
            sb.Append("            }\n");
            if (r >= 3) sb.Append("            carried:;\n");
        }
        sb.Append("        }\n    }\n");
    }

    private static string Identity(ReduceKind kind, DType t) => kind switch
    {
        ReduceKind.Sum => Lit(0, t),
        ReduceKind.Prod => Lit(1, t),
        ReduceKind.Max => t.IsFloating() ? Lit(double.NegativeInfinity, t) : t == DType.Bool ? "false" : $"{Compute(t)}.MinValue",
        ReduceKind.Min => t.IsFloating() ? Lit(double.PositiveInfinity, t) : t == DType.Bool ? "true" : $"{Compute(t)}.MaxValue",
        _ => throw new InvalidOperationException(),
    };

    private static string Combine(ReduceKind kind, string acc, string v, bool vector, DType t) => kind switch
    {
        ReduceKind.Sum => t.IsInteger() && !vector ? $"unchecked({acc} + {v})" : $"{acc} + {v}",
        ReduceKind.Prod => t.IsInteger() && !vector ? $"unchecked({acc} * {v})" : $"{acc} * {v}",
        ReduceKind.Max => $"JitRuntime.Max({acc}, {v})",
        ReduceKind.Min => $"JitRuntime.Min({acc}, {v})",
        _ => throw new InvalidOperationException(),
    };

    private static string Horizontal(ReduceKind kind, string v) => kind switch
    {
        ReduceKind.Sum => $"Vector512.Sum({v})",
        ReduceKind.Prod => $"JitRuntime.HProd({v})",
        ReduceKind.Max => $"JitRuntime.HMax({v})",
        ReduceKind.Min => $"JitRuntime.HMin({v})",
        _ => throw new InvalidOperationException(),
    };

    /// <summary>A reduction kernel. The loop dims are reordered as (kept..., reduced...). When the innermost reduced dim is
    /// contiguous the inner loop vectorizes over it (row reductions); otherwise, when the innermost kept dim is contiguous,
    /// it vectorizes over kept outputs with the reduction loop outside (column reductions).</summary>
    private static string Reduction(Kernel k, string method, List<View> views, List<int> slots)
    {
        var kind = k.Reduction!.Value;
        var red = k.ReducedDims;
        var kept = Enumerable.Range(0, k.LoopShape.Length).Where(d => !red.Contains(d)).ToArray();
        var order = kept.Concat(red).ToArray();
        var permShape = order.Select(d => k.LoopShape[d]).ToArray();
        var permStrides = views.Select(v => order.Select(d => v.Strides[d]).ToArray()).ToList();
        // Collapse within the kept block and within the reduced block separately (by position: two reads may have
        // equal strides within a block).
        var (keptShape, keptStrides) = Collapse(permShape[..kept.Length].DefaultIfEmpty(1).ToArray(),
            permStrides.Select(st => kept.Length == 0 ? [0] : st[..kept.Length]).ToList(), new bool[Math.Max(1, kept.Length)]);
        var (redShape, redStrides) = Collapse(permShape[kept.Length..].DefaultIfEmpty(1).ToArray(),
            permStrides.Select(st => red.Length == 0 ? [0] : st[kept.Length..]).ToList(), new bool[Math.Max(1, red.Length)]);
        int[] KS(int i) => keptStrides[i];
        int[] RS(int i) => redStrides[i];
        int nk = keptShape.Length, nr = redShape.Length;
        var value = k.Outputs[0].Value;
        int outSlot = k.Outputs[0].Slot;
        var t = value.DType;
        var T = Compute(t);
        bool vectorOk = Vectorizable(k, out _) && t is DType.Float32 or DType.Float64;
        bool innerReduce = vectorOk && Enumerable.Range(0, views.Count).All(i => RS(i)[nr - 1] is 0 or 1) && redShape[nr - 1] >= 16;
        bool outerReduce = !innerReduce && vectorOk && Enumerable.Range(0, views.Count).All(i => KS(i)[nk - 1] is 0 or 1) && keptShape[nk - 1] >= 16;

        var sb = new StringBuilder();
        sb.Append($"    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]\n    public static unsafe void {method}(nint[] P, long s, long e)\n    {{\n");
        sb.Append(Pointers(slots, views, k));
        sb.Append("        long rem = s;\n");
        for (int d = nk - 1; d >= 0; d--) sb.Append($"        int i{d} = (int)(rem % {keptShape[d]}); rem /= {keptShape[d]};\n");
        sb.Append("        while (s < e)\n        {\n");
        sb.Append($"            int len = (int)Math.Min({keptShape[nk - 1]} - i{nk - 1}, e - s);\n");
        for (int v = 0; v < views.Count; v++)
        {
            var terms = Enumerable.Range(0, nk).Where(d => KS(v)[d] != 0).Select(d => $"(long)i{d} * {KS(v)[d]}");
            sb.Append($"            long b{v} = {views[v].Offset}{string.Concat(terms.Select(x => " + " + x))};\n");
        }
        // Nested loops over the reduced dims (all but the innermost when it is vectorized or scalar-inner).
        void OpenReduced(string indent, int upTo, string innerVar)
        {
            for (int d = 0; d < upTo; d++) sb.Append($"{indent}{new string(' ', 4 * d)}for (int r{d} = 0; r{d} < {redShape[d]}; r{d}++)\n{indent}{new string(' ', 4 * d)}{{\n");
        }
        void CloseReduced(string indent, int upTo)
        {
            for (int d = upTo - 1; d >= 0; d--) sb.Append($"{indent}{new string(' ', 4 * d)}}}\n");
        }
        string Offsets(string indent, int upTo, string keptInner)
        {
            var s2 = new StringBuilder();
            for (int v = 0; v < views.Count; v++)
            {
                var terms = Enumerable.Range(0, upTo).Where(d => RS(v)[d] != 0).Select(d => $"(long)r{d} * {RS(v)[d]}");
                var ki = KS(v)[nk - 1] == 0 ? "" : $" + (long){keptInner} * {KS(v)[nk - 1]}";
                s2.Append($"{indent}long o{v} = b{v}{ki}{string.Concat(terms.Select(x => " + " + x))};\n");
            }
            return s2.ToString();
        }

        if (outerReduce)
        {
            // Vectorize over kept outputs; loop over every reduced index.
            sb.Append("            int j = 0;\n");
            sb.Append($"            for (; j <= len - Vector512<{T}>.Count; j += Vector512<{T}>.Count)\n            {{\n");
            sb.Append($"                var acc = Vector512.Create({Identity(kind, t)});\n");
            OpenReduced("                ", nr, "");
            var ind = "                " + new string(' ', 4 * nr);
            sb.Append(Offsets(ind, nr, "j"));
            var em = new Emitter(sb, true, t, v =>
            {
                int vi = views.IndexOf(v);
                return VectorRead(v, vi, KS(vi)[nk - 1] != 0, "");
            }, ind);
            var ev = em.Emit(value);
            sb.Append($"{ind}acc = {Combine(kind, "acc", ev, true, t)};\n");
            CloseReduced("                ", nr);
            sb.Append($"                Vector512.Store(acc, p{outSlot} + s + j);\n            }}\n");
            sb.Append("            for (; j < len; j++)\n            {\n");
            sb.Append($"                {T} acc = {Identity(kind, t)};\n");
            OpenReduced("                ", nr, "");
            sb.Append(Offsets(ind, nr, "j"));
            var se = new Emitter(sb, false, t, v => ReadScalar(v, views.IndexOf(v), "0", 0), ind);
            var sv = se.Emit(value);
            sb.Append($"{ind}acc = {Combine(kind, "acc", sv, false, t)};\n");
            CloseReduced("                ", nr);
            sb.Append($"                p{outSlot}[s + j] = {Store(t, "acc")};\n            }}\n");
        }
        else
        {
            // One output at a time; the innermost reduced dim is vectorized when contiguous.
            sb.Append("            for (int j = 0; j < len; j++)\n            {\n");
            sb.Append($"                {T} acc = {Identity(kind, t)};\n");
            OpenReduced("                ", nr - 1, "");
            var ind = "                " + new string(' ', 4 * (nr - 1));
            sb.Append(Offsets(ind, nr - 1, "j"));
            sb.Append($"{ind}int q = 0;\n");
            if (innerReduce)
            {
                // Four independent vector accumulators hide the combine's latency (each block in its own scope, so
                // the emitted temporaries may reuse their names), then single vectors, then the scalar tail.
                string W = $"Vector512<{T}>.Count";
                // A vector read at inner offset `at`: a broadcast of the view's element when it does not move along
                // the reduced dim, a load otherwise.
                Func<View, string> InnerRead(string at) => v =>
                {
                    int vi = views.IndexOf(v);
                    return VectorRead(v, vi, RS(vi)[nr - 1] != 0, at);
                };
                // Loop-invariant subexpressions (reading only views that do not move along the reduced dim, such as a
                // row's max in logsumexp) are computed once per output, before the loop.
                var hoist = new Emitter(sb, true, t, v => $"Vector512.Create(p{v.Slot}[o{views.IndexOf(v)}])", ind, "h");
                foreach (var root in InvariantRoots([value], leaf => leaf is InputExpr ie && RS(views.IndexOf(ie.View))[nr - 1] == 0))
                    hoist.Emit(root);
                var hoisted = hoist.Emitted;
                for (int a = 0; a < 4; a++) sb.Append($"{ind}var vacc{a} = Vector512.Create({Identity(kind, t)});\n");
                sb.Append($"{ind}for (; q <= {redShape[nr - 1]} - 4 * {W}; q += 4 * {W})\n{ind}{{\n");
                for (int a = 0; a < 4; a++)
                {
                    string at = a == 0 ? "q" : $"q + {a} * {W}";
                    sb.Append($"{ind}    {{\n");
                    var ema = new Emitter(sb, true, t, InnerRead(at), ind + "        ", known: hoisted);
                    var eva = ema.Emit(value);
                    sb.Append($"{ind}        vacc{a} = {Combine(kind, $"vacc{a}", eva, true, t)};\n{ind}    }}\n");
                }
                sb.Append($"{ind}}}\n");
                sb.Append($"{ind}var vacc = {Combine(kind, Combine(kind, "vacc0", "vacc1", true, t), Combine(kind, "vacc2", "vacc3", true, t), true, t)};\n");
                sb.Append($"{ind}for (; q <= {redShape[nr - 1]} - {W}; q += {W})\n{ind}{{\n");
                var em = new Emitter(sb, true, t, InnerRead("q"), ind + "    ", known: hoisted);
                var ev2 = em.Emit(value);
                sb.Append($"{ind}    vacc = {Combine(kind, "vacc", ev2, true, t)};\n{ind}}}\n");
                sb.Append($"{ind}acc = {Combine(kind, "acc", Horizontal(kind, "vacc"), false, t)};\n");
            }
            sb.Append($"{ind}for (; q < {redShape[nr - 1]}; q++)\n{ind}{{\n");
            var se = new Emitter(sb, false, t, v => ReadScalar(v, views.IndexOf(v), "q", RS(views.IndexOf(v))[nr - 1]), ind + "    ");
            var sv2 = se.Emit(value);
            sb.Append($"{ind}    acc = {Combine(kind, "acc", sv2, false, t)};\n{ind}}}\n");
            CloseReduced("                ", nr - 1);
            sb.Append($"                p{outSlot}[s + j] = {Store(t, "acc")};\n            }}\n");
        }
        AppendAdvance(sb, keptShape);
        return sb.ToString();
    }
}
