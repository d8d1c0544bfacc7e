namespace Jx;

/// <summary>A batching rule: values with their batch dimensions (null = not batched) → outputs with theirs.</summary>
public delegate (Tensor[] Outputs, int?[] Dims) BatchRule(Tensor[] values, int?[] dims, Params parameters, int axisSize);

/// <summary>A tracer of Vmap: a value that carries the batch along dimension <see cref="BatchDim"/> (null = the same
/// value for every member of the batch).</summary>
public sealed class BatchTracer : Tracer
{
    private readonly BatchTrace _trace;
    public Tensor Value { get; }
    public int? BatchDim { get; }
    private readonly Aval _aval;

    internal BatchTracer(BatchTrace trace, Tensor value, int? batchDim)
    {
        _trace = trace;
        Value = value;
        BatchDim = batchDim;
        var a = value.Aval;
        _aval = batchDim is int d ? a with { Shape = new Shape(a.Shape.Where((_, i) => i != d).ToArray()) } : a;
    }

    public override Trace Trace => _trace;
    public override Aval Aval => _aval;
    public override Tensor FullLower() => BatchDim is null ? TraceStack.FullLower(Value) : this;
}

/// <summary>The axis a Vmap maps over: its size and optional name (for collectives).</summary>
public sealed record BatchAxis(string? Name, int Size);

/// <summary>The vectorizing interpreter: each primitive applies its batching rule, which moves or keeps the batch
/// dimension so that no primitive runs once per example.</summary>
public sealed class BatchTrace : Trace
{
    internal BatchTrace(MainTrace main) : base(main) { }
    public BatchAxis Axis => (BatchAxis)Main.GlobalData!;

    public override Tensor Pure(Tensor value) => new BatchTracer(this, value, null);
    public override Tensor Lift(Tensor value) => new BatchTracer(this, value, null);

    public override Tensor[] ProcessPrimitive(Primitive primitive, Tensor[] tracers, Params parameters)
    {
        var vals = tracers.Select(t => ((BatchTracer)t).Value).ToArray();
        var dims = tracers.Select(t => ((BatchTracer)t).BatchDim).ToArray();
        if (primitive.Family == "collective" && parameters.Has("axis_name") && parameters.Get<string>("axis_name") == Axis.Name)
        {
            var (o, d) = Batching.Collective(primitive, vals, dims, parameters, Axis.Size);
            return Wrap(o, d);
        }
        if (dims.All(d => d is null))
            return Wrap(primitive.Bind(vals, parameters), []);
        var (outs, outDims) = Batching.Apply(primitive, vals, dims, parameters, Axis);
        return Wrap(outs, outDims);
    }

    private Tensor[] Wrap(Tensor[] outs, int?[] dims) => outs.Select((o, i) => (Tensor)new BatchTracer(this, o, i < dims.Length ? dims[i] : null)).ToArray();

    public override Tensor[] ProcessCustomCall(CustomCall call, Tensor[] tracers)
    {
        var vals = tracers.Select(t => ((BatchTracer)t).Value).ToArray();
        var dims = tracers.Select(t => ((BatchTracer)t).BatchDim).ToArray();
        if (dims.All(d => d is null)) return Wrap(call.Bind(vals), []);
        var axis = Axis;
        Tensor[] V(Func<Tensor[], Tensor[]> f, Tensor[] xs, int?[] ds) => Batching.RunBatched(f, xs, ds, axis);
        CustomCall batched = call switch
        {
            CustomJvpCall cj => new CustomJvpCall(cj.Name, xs => V(cj.Fun, xs, dims), (ps, ts) =>
            {
                var n = ps.Length;
                var r = V(a => { var (o, t) = cj.Jvp(a[..n], a[n..]); return [.. o, .. t]; }, [.. ps, .. ts], [.. dims, .. dims]);
                return (r[..(r.Length / 2)], r[(r.Length / 2)..]);
            }),
            CustomVjpCall cv => BatchVjp(cv, dims, axis),
            CheckpointCall ck => new CheckpointCall(xs => V(ck.Fun, xs, dims)),
            _ => new CustomJvpCall(call.Name, xs => V(call.Call, xs, dims), (ps, ts) => throw new NotDifferentiableError($"'{call.Name}' under Vmap has no JVP")),
        };
        var outs = batched.Bind(vals);
        return Wrap(outs, outs.Select(_ => (int?)0).ToArray());
    }

    private static CustomVjpCall BatchVjp(CustomVjpCall cv, int?[] dims, BatchAxis axis)
    {
        int nres = 0;
        return new CustomVjpCall(cv.Name,
            xs => Batching.RunBatched(cv.Fun, xs, dims, axis),
            xs =>
            {
                int nout = 0;
                var r = Batching.RunBatched(a => { var (o, res) = cv.Fwd(a); nout = o.Length; nres = res.Length; return [.. o, .. res]; }, xs, dims, axis);
                return (r[..nout], r[nout..]);
            },
            (res, cts) => Batching.RunBatched(a => cv.Bwd(a[..nres], a[nres..]), [.. res, .. cts],
                [.. res.Select(_ => (int?)0), .. cts.Select(_ => (int?)0)], axis));
    }
}
