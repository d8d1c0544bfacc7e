namespace Jx;

/// <summary>Settings of Jit.</summary>
public static class JitOptions
{
    /// <summary>Tiered compilation, on by default (JX_JIT_TIERED=0 turns it off): while a new program compiles in the
    /// background, its calls run the traced jaxpr through the eager interpreter, so the first result does not wait for
    /// the C# compiler's cold start (≈ 3 s in a fresh process). Once the native code is ready every call runs it.
    /// Results of those first calls are the eager kernels' (they can differ from the fused kernels' in the last bits
    /// of transcendental functions). Off: every call runs compiled code, the first one waiting for the compiler.
    /// A program whose code is already in the disk cache (<c>JX_CACHE_DIR</c>) is loaded at once instead: its first call
    /// runs native code. The test suites turn tiering off so that they exercise the compiled code.</summary>
    /// <example><code>JitOptions.Tiered = false; // the first call compiles before it runs</code></example>
    public static bool Tiered { get; set; } = Environment.GetEnvironmentVariable("JX_JIT_TIERED") != "0";

    /// <summary>Moves work out of compiled scan loops (JX_SCAN_HOIST=1): accumulators <c>c' = c + x_tᵀ·δ_t</c> become one
    /// product over all steps after the loop, and products of the xs alone (a recurrent cell's input projection) one
    /// product before it. Off by default: on the CPU the stacked intermediates cost more memory traffic than the per-step
    /// calls they save (measured slower on the development machine); it is meant for backends where each per-step call
    /// is expensive.</summary>
    /// <example><code>JitOptions.HoistScanLoops = true; var step = Jit(ValueAndGrad(rnnLoss));</code></example>
    public static bool HoistScanLoops { get; set; } = Environment.GetEnvironmentVariable("JX_SCAN_HOIST") == "1";
}

/// <summary>The staged call of a jitted function (JAX's pjit): one equation holding the function's jaxpr. Its eager
/// kernel runs the compiled executable; differentiation and batching trace through the inner jaxpr.</summary>
public static class Pjit
{
    /// <summary>Holds the executable of one jaxpr, compiled on first use.</summary>
    internal sealed class Compiled(ClosedJaxpr jaxpr, string name)
    {
        private IExecutable? _exe;
        private Task<IExecutable>? _background;
        private readonly object _lock = new();
        private bool? _onDisk;
        public ClosedJaxpr Jaxpr { get; } = jaxpr;
        public string Name { get; } = name;

        /// <summary>The compiled executable (compiles now, or waits for a background compile).</summary>
        public IExecutable Executable
        {
            get
            {
                if (_exe is not null) return _exe;
                Task<IExecutable>? bg;
                lock (_lock) bg = _background;
                if (bg is not null) return _exe = Await(bg);
                lock (_lock) return _exe ??= JitBackends.Current.Compile(Jaxpr, Name);
            }
        }

        /// <summary>Runs the program. With tiered compilation the first calls interpret the jaxpr while the native
        /// compile runs in the background, so the time to the first result does not include the compiler's cold start.</summary>
        public Tensor[] Run(Tensor[] args, bool[]? donated = null)
        {
            if (_exe is not null) return _exe.Run(args, donated);
            // A jitted call nested in a program that is being interpreted runs interpreted too: the enclosing
            // program's compile inlines it, so compiling it separately would only compete for the CPUs.
            if (_interpreting) return Interpret(args);
            // With the program's code in the disk cache, compiling is loading: no interpreted first call.
            if (JitOptions.Tiered && !(_onDisk ??= JitBackends.Current.IsCompiledOnDisk(Jaxpr)))
            {
                Task<IExecutable> bg;
                lock (_lock) bg = _background ??= Task.Run(() => JitBackends.Current.Compile(Jaxpr, Name));
                if (!bg.IsCompleted) return Interpret(args);
                _exe = Await(bg);
                return _exe.Run(args, donated);
            }
            return Executable.Run(args, donated);
        }

        /// <summary>The background compile's result. A failed compile is reported to this caller and forgotten, so the
        /// next call compiles again (as a failed compile without tiering does), instead of failing forever.</summary>
        private IExecutable Await(Task<IExecutable> bg)
        {
            if (bg.IsFaulted || bg.IsCanceled)
                lock (_lock) if (ReferenceEquals(_background, bg)) _background = null;
            return bg.GetAwaiter().GetResult();
        }

        [ThreadStatic] private static bool _interpreting;

        private Tensor[] Interpret(Tensor[] args)
        {
            bool was = _interpreting;
            _interpreting = true;
            try
            {
                using (TraceStack.EagerOnly()) return Jaxpr.Call(args);
            }
            finally { _interpreting = was; }
        }


        public override bool Equals(object? obj) => obj is Compiled c && c.Jaxpr.Equals(Jaxpr);
        public override int GetHashCode() => Jaxpr.GetHashCode();
        public override string ToString() => Name;
    }

    internal static ClosedJaxpr JaxprOf(Params p) => p.Get<ClosedJaxpr>("jaxpr");

    [ThreadStatic] private static bool[]? _donation;

    /// <summary>Binds an eager call of a jitted function whose arguments marked in <paramref name="donated"/> give up
    /// their arrays: the program may write its outputs into them.</summary>
    internal static Tensor[] BindDonating(Tensor[] args, Params p, bool[] donated)
    {
        _donation = donated;
        try { return Primitive.Bind(args, p); }
        finally { _donation = null; }
    }

    public static readonly Primitive Primitive = new("pjit", "jit",
        (ins, p) =>
        {
            var j = JaxprOf(p);
            var expected = j.InAvals;
            if (ins.Length != expected.Length) throw new InvalidArgumentError($"pjit '{p.Get<string>("name")}' takes {expected.Length} inputs, got {ins.Length}");
            for (int i = 0; i < ins.Length; i++)
                if (ins[i].Shape != expected[i].Shape || ins[i].DType != expected[i].DType)
                    throw new ShapeError($"pjit '{p.Get<string>("name")}' input {i} expects {expected[i]}, got {ins[i]}");
            return (Aval[])j.OutAvals.Clone();
        },
        (xs, p, o) =>
        {
            var c = (Compiled)p.Get<OpaqueParam>("compiled").Value;
            // Donation applies to the call a JittedFunction makes from eager code, never to a nested one.
            var donated = _donation;
            _donation = null;
            return c.Run(xs, donated);
        },
        multipleResults: true);

    internal static Params ParamsFor(Compiled c) => Params.Of(("jaxpr", c.Jaxpr), ("name", c.Name), ("compiled", new OpaqueParam(c)));

    internal static void RegisterRules()
    {
        // Differentiation and batching run through the inner jaxpr (inlined under the transform).
        Ad.DefJvp(Primitive, (xs, ts, p) =>
        {
            var j = JaxprOf(p);
            return JvpFlat.Run(a => j.Call(a), xs, ts);
        });
        Batching.Def(Primitive, (vals, dims, p, size) =>
        {
            var j = JaxprOf(p);
            var outs = Batching.RunBatched(a => j.Call(a), vals, dims, Batching.RuleAxis(size));
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
    }
}
