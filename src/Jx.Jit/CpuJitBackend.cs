using System.Runtime.InteropServices;
using System.Text;

namespace Jx;

/// <summary>The native CPU backend: optimizes the jaxpr (<see cref="Passes"/>), fuses it into kernels
/// (<see cref="Fusion"/>), generates vectorized C# for every kernel (<see cref="CodeGen"/>), compiles them with Roslyn in
/// one assembly per program (cached on disk), and runs them with the library kernels in between.
/// JX_DUMP_DIR writes each program's optimized jaxpr, fusion groups and generated code to files.</summary>
public sealed class CpuJitBackend : IJitBackend
{
    public string Name => "cpu";

    static CpuJitBackend()
    {
        // No compiler warm-up here: with a warm disk cache no compiler is needed at all, and a background warm-up
        // would compete for the CPUs with the first call.
        // Loop and branch bodies run as compiled programs: a native loop around the body's fused kernels.
        ControlFlow.BodyRunner = j => new CpuJitBackend().Compile(j, "body").Run;
    }

    /// <summary>Whether this program was compiled into the disk cache before: compiling it is then loading it.</summary>
    public bool IsCompiledOnDisk(ClosedJaxpr jaxpr) => RoslynCompiler.HasProgram(RoslynCompiler.ProgramKey(jaxpr));

    /// <summary>The hashes of the assemblies the current top-level compile (on this thread) has loaded or compiled:
    /// its own and its loop bodies'; the disk cache's marker of the program lists them.</summary>
    [ThreadStatic] private static List<string>? _assemblies;

    public IExecutable Compile(ClosedJaxpr jaxpr, string name)
    {
        bool top = _assemblies is null;
        if (!top) return CompileProgram(jaxpr, name);
        var key = RoslynCompiler.ProgramKey(jaxpr);
        _assemblies = [];
        try
        {
            // The executor's own methods compile to machine code on another thread (on the first compile of the
            // process) while this one optimizes, fuses and generates code.
            ExecutorWarmUp.Value.GetType();
            var exe = CompileProgram(jaxpr, name);
            RoslynCompiler.MarkProgram(key, _assemblies);
            return exe;
        }
        finally { _assemblies = null; }
    }

    /// <summary>Compiles the executor's methods to machine code on another thread, once per process, so that the first
    /// program run does not wait for the runtime's JIT compiler (a run found in the disk cache is otherwise tens of
    /// milliseconds of compiling them one by one); and loads the BLAS library and starts its threads with one product
    /// (the first product of a process otherwise takes several milliseconds more than the next).</summary>
    private static readonly Lazy<Task> ExecutorWarmUp = new(() => Task.Run(() =>
    {
        const int n = 256;
        Gemm.Multiply(new float[n * n], new float[n * n], new float[n * n], n, n, n);
        foreach (var type in new[] { typeof(CpuExecutable), typeof(BufferPlan), typeof(DonationPlan), typeof(KernelUtil) })
            foreach (var m in type.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic |
                                              System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static |
                                              System.Reflection.BindingFlags.DeclaredOnly))
                if (!m.IsAbstract && !m.ContainsGenericParameters)
                    try { System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle); }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException) { }
    }));

    private IExecutable CompileProgram(ClosedJaxpr jaxpr, string name)
    {
        var optimized = Passes.Optimize(jaxpr);
        var plan = MultiOutputFusion.Apply(Fusion.Build(optimized));
        var kernels = plan.Steps.OfType<KernelStep>().ToList();
        var src = new StringBuilder("using System;\nusing System.Runtime.Intrinsics;\nusing Jx;\n\npublic static class JxProgram\n{\n");
        var slotLists = new List<List<int>>();
        foreach (var k in kernels)
        {
            src.Append(CodeGen.Generate(k.Kernel, k.Kernel.Name, out var slots));
            slotLists.Add(slots);
        }
        src.Append("}\n");
        var source = src.ToString();
        if (kernels.Count > 0)
        {
            var asm = RoslynCompiler.Compile(source, name, out var hash);
            _assemblies?.Add(hash);
            var type = asm.GetType("JxProgram")!;
            for (int i = 0; i < kernels.Count; i++)
            {
                var m = type.GetMethod(kernels[i].Kernel.Name)!;
                kernels[i].Compiled = m.CreateDelegate<Action<nint[], long, long>>();
                kernels[i].InputSlots = slotLists[i].ToArray();
            }
        }
        // Loop bodies are programs of their own, compiled now and run by the loop step without primitive dispatch.
        foreach (var loop in plan.Steps.OfType<LoopStep>())
            loop.CompileBodies((j, suffix) => (CpuExecutable)CompileProgram(j, name + "_" + suffix));
        var exe = new CpuExecutable(plan, BufferPlan.For(plan), DonationPlan.For(plan), optimized, source);
        if (Environment.GetEnvironmentVariable("JX_DUMP_DIR") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            var d = exe.Describe();
            var stem = Path.Combine(dir, $"{name}_{Math.Abs(jaxpr.GetHashCode()):x8}");
            File.WriteAllText(stem + ".jaxpr.txt", jaxpr + "\n\n--- optimized ---\n" + d.OptimizedJaxpr);
            File.WriteAllText(stem + ".fusion.txt", d.FusionGroups);
            File.WriteAllText(stem + ".cs", d.GeneratedCode);
        }
        return exe;
    }
}

/// <summary>A compiled program: runs each step on a slot environment. Kernel outputs that the program returns are
/// allocated per call; intermediates live in buffers planned by liveness (<see cref="BufferPlan"/>); library steps run
/// the primitives' native kernels.</summary>
internal sealed class CpuExecutable(Plan plan, BufferPlan buffers, DonationPlan donation, ClosedJaxpr optimized, string source) : IExecutable
{
    public int KernelCount => plan.KernelCount;

    /// <summary>The fused program this executable runs.</summary>
    internal Plan Plan => plan;

    /// <summary>Elements a kernel's loop nest visits from which it runs in parallel chunks.</summary>
    internal const long ParallelWork = 1 << 16;

    public LoweredText Describe() => new(optimized.ToString(), plan.Describe() + "\n" + buffers.Describe(s => $"%{s}") + "\n" + donation.Describe(s => $"%{s}"), source, plan.KernelCount);

    /// <summary>Number of value slots of the program (the size of a <see cref="LoopArena"/> for it).</summary>
    public int SlotCount => plan.SlotAvals.Length;

    /// <summary>The slot that holds argument <paramref name="i"/> (a loop keeps the rows it passes there in its arena).</summary>
    public int InputSlot(int i) => plan.InputSlots[i];

    public Tensor[] Run(Tensor[] args) => Execute(args, null);

    /// <summary>Runs the program, writing outputs into the arrays of donated arguments where the
    /// <see cref="DonationPlan"/> allows.</summary>
    public Tensor[] Run(Tensor[] args, bool[]? donated) => Execute(args, null, donation.Assign(args, donated));

    /// <summary>Runs the program; with an <paramref name="arena"/> (a loop body), the outputs of its kernels, products
    /// and nested loops' ys are written into the arena's reused buffers instead of fresh arrays; outputs in
    /// <paramref name="into"/> are written into donated arrays.</summary>
    internal Tensor[] Execute(Tensor[] args, LoopArena? arena, Dictionary<int, Array>? into = null)
    {
        CheckConstantsNotDonated();
        var env = new Tensor?[plan.SlotAvals.Length];
        for (int i = 0; i < args.Length; i++) env[plan.InputSlots[i]] = args[i];
        foreach (var (slot, value) in plan.ConstSlots) env[slot] = value;
        bool wasCompiled = ControlFlow.InCompiledProgram;
        ControlFlow.InCompiledProgram = true;
        // A loop body's kernels write into its arena; a whole program's intermediates into this call's planned buffers.
        var set = arena is null ? buffers.Rent() : null;
        try
        {
        using (TraceStack.EagerOnly())
        {
            foreach (var step in plan.Steps)
            {
                switch (step)
                {
                    case LibraryStep l:
                    {
                        var ins = Resolve(l.Inputs, env);
                        // The avals are known from the jaxpr: the primitive's kernel runs directly, without abstract
                        // evaluation (the debugging hooks still go through Bind). A product writes into its reused
                        // buffer (the loop arena's, or this call's planned one) when it has one.
                        var outs = DebugNans.Enabled || EagerProfiler.Enabled
                            ? l.Eqn.Primitive.Bind(ins, l.Eqn.Params)
                            : BufferPlan.WritesIntoBuffer(l) && (arena?.Get(l.OutSlots[0], l.OutAvals[0]) ?? buffers.For(set, l.OutSlots[0])) is { } target
                                ? [Linalg.DotGeneralInto(ins[0], ins[1], l.Eqn.Params, l.OutAvals[0], target)]
                                : l.Eqn.Primitive.Kernel(ins, l.Eqn.Params, l.OutAvals);
                        for (int i = 0; i < outs.Length; i++) env[l.OutSlots[i]] = outs[i];
                        break;
                    }
                    case LoopStep loop:
                        RunLoop(loop, env, arena, set);
                        break;
                    case KernelStep k:
                        RunKernel(k, env, arena, set, into);
                        break;
                }
            }
        }
        }
        finally
        {
            ControlFlow.InCompiledProgram = wasCompiled;
            buffers.Return(set);
        }
        var result = new Tensor[plan.Outputs.Length];
        for (int i = 0; i < result.Length; i++)
        {
            var value = plan.Outputs[i] is int s ? env[s]! : (Tensor)plan.Outputs[i];
            // A constant (or literal) output is the program's own tensor: the caller gets a copy, so that donating it
            // to another jitted call cannot change what this program computes next time.
            result[i] = ConstantOutputs[i] ? KernelUtil.CopyOf(value) : value;
        }
        return result;
    }

    private bool[]? _constantOutputs;

    /// <summary>Per output: whether it is a constant of the program (a constant slot or a literal).</summary>
    private bool[] ConstantOutputs => _constantOutputs ??= plan.Outputs
        .Select(o => o is not int s || plan.ConstSlots.Any(c => c.Slot == s)).ToArray();

    /// <summary>A constant captured by the program whose buffer was later donated to another jitted call may have been
    /// overwritten: running on it would give a silently wrong answer, so it is an error (as JAX's deleted array is).</summary>
    private void CheckConstantsNotDonated()
    {
        foreach (var (_, value) in plan.ConstSlots)
            if (value.Buffer?.DonatedTo is string donee)
                throw new DonatedBufferError($"a constant captured by this jitted program was later donated to jitted '{donee}' (donateArgnums) and may have been overwritten; pass it as an argument instead of capturing it, or do not donate it.");
    }

    /// <summary>Runs a loop step; outputs it writes into arrays of its own (a scan's ys) go into reused buffers when
    /// planned. (A method of its own: its closure is allocated only for loops, not on every program run.)</summary>
    private void RunLoop(LoopStep loop, Tensor?[] env, LoopArena? arena, Array?[]? set)
    {
        var outs = loop.Run(Resolve(loop.Inputs, env), loop.OutSlots.Select(s => plan.SlotAvals[s]).ToArray(),
            o => arena?.Get(loop.OutSlots[o], plan.SlotAvals[loop.OutSlots[o]]) ?? buffers.For(set, loop.OutSlots[o]));
        for (int i = 0; i < outs.Length; i++) env[loop.OutSlots[i]] = outs[i];
    }

    private static Tensor[] Resolve(object[] inputs, Tensor?[] env)
    {
        var ins = new Tensor[inputs.Length];
        for (int i = 0; i < ins.Length; i++) ins[i] = inputs[i] is int s ? env[s]! : (Tensor)inputs[i];
        return ins;
    }

    private static Tensor Identity(ReduceKind kind, Aval a)
    {
        if (a.DType == DType.Bool) return Np.Full(a.Shape, kind is ReduceKind.Min or ReduceKind.Prod);
        double v = (kind, a.DType) switch
        {
            (ReduceKind.Sum, _) => 0,
            (ReduceKind.Prod, _) => 1,
            (ReduceKind.Max, DType.Int32) => int.MinValue,
            (ReduceKind.Max, DType.Int64) => long.MinValue,
            (ReduceKind.Max, DType.UInt32) => 0,
            (ReduceKind.Max, _) => double.NegativeInfinity,
            (_, DType.Int32) => int.MaxValue,
            (_, DType.Int64) => long.MaxValue,
            (_, DType.UInt32) => uint.MaxValue,
            _ => double.PositiveInfinity,
        };
        return Np.Full(a.Shape, v, a.DType);
    }

    /// <summary>A kernel's outer loop split into chunks over the workers (a method of its own: its closure is allocated
    /// only for kernels big enough to run in parallel).</summary>
    internal static void RunInParallel(Action<nint[], long, long> run, nint[] ptrs, long total, int workers)
    {
        int chunks = (int)Math.Min(total, workers * 4);
        long per = (total + chunks - 1) / chunks;
        Parallel.For(0, chunks, c =>
        {
            long s = c * per, e = Math.Min(total, s + per);
            if (s < e) run(ptrs, s, e);
        });
    }

    [ThreadStatic] private static nint[]?[]? _pointerScratch;

    /// <summary>This thread's reusable pointer array of length <paramref name="n"/>.</summary>
    private static nint[] PointerScratch(int n)
    {
        if (n > 32) return new nint[n];
        var pool = _pointerScratch ??= new nint[]?[33];
        return pool[n] ??= new nint[n];
    }

    private void RunKernel(KernelStep k, Tensor?[] env, LoopArena? arena, Array?[]? set, Dictionary<int, Array>? into)
    {
        var kernel = k.Kernel;
        foreach (var (value, slot) in kernel.Outputs)
        {
            var aval = plan.SlotAvals[slot];
            var array = arena?.Get(slot, aval) ?? (into is not null && into.TryGetValue(slot, out var donated) ? donated : null)
                        ?? buffers.For(set, slot) ?? KernelUtil.NewUninitialized(aval.DType, aval.Size);
            env[slot] = KernelUtil.Wrap(array, aval);
        }
        if (k.Total == 0 || k.Work == 0)
        {
            // Nothing to compute (an empty output) — or an empty reduction, whose outputs are the identity.
            if (k.Total > 0) foreach (var (value, slot) in kernel.Outputs) env[slot] = Identity(kernel.Reduction!.Value, plan.SlotAvals[slot]);
            return;
        }
        var slots = k.InputSlots;
        // Per call, nothing is allocated for the operands: the pinning handles live on the stack, and the pointer array
        // is this thread's scratch array of that length (a kernel never runs another kernel, and the workers of a
        // parallel kernel are done with it when it returns).
        Span<GCHandle> handles = slots.Length <= 32 ? stackalloc GCHandle[slots.Length] : new GCHandle[slots.Length];
        handles.Clear(); // the finally frees only the handles that were allocated
        var ptrs = PointerScratch(slots.Length);
        try
        {
            for (int i = 0; i < slots.Length; i++)
            {
                handles[i] = GCHandle.Alloc(env[slots[i]]!.Buffer!.RawArray(), GCHandleType.Pinned);
                ptrs[i] = handles[i].AddrOfPinnedObject();
            }
            long total = k.Total, work = k.Work;
            var run = k.Compiled!;
            int workers = Environment.ProcessorCount;
            if (work < ParallelWork || workers == 1 || total < 2) run(ptrs, 0, total);
            else RunInParallel(run, ptrs, total, workers);
        }
        finally
        {
            foreach (var h in handles) if (h.IsAllocated) h.Free();
        }
    }
}
