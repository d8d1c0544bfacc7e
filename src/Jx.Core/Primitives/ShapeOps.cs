namespace Jx;

/// <summary>Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, expand_dims, rev, slice, concatenate, pad,
/// iota, dynamic_slice, dynamic_update_slice. Eager kernels share the buffer when the data does not move
/// (reshape, squeeze, expand_dims) and use one strided copy otherwise.</summary>
[PrimitiveFamily]
public static class ShapeOps
{
    internal static int[] CheckAxes(string op, int[] axes, int rank, bool allowDuplicates = false)
    {
        var seen = new HashSet<int>();
        foreach (var a in axes)
        {
            if (a < 0 || a >= rank) throw new AxisError($"'{op}': axis {a} is out of range for rank {rank}");
            if (!seen.Add(a) && !allowDuplicates) throw new AxisError($"'{op}': axis {a} is repeated in ({string.Join(", ", axes)})");
        }
        return axes;
    }

    /// <summary>broadcast_in_dim[shape, broadcast_dimensions]: operand dim i goes to output dim broadcast_dimensions[i];
    /// each operand dim is 1 or equal to its output dim.</summary>
    public static readonly Primitive BroadcastInDim = new("broadcast_in_dim", "shape",
        (ins, p) =>
        {
            var x = ins[0];
            var shape = p.Ints("shape");
            var bd = p.Ints("broadcast_dimensions");
            if (bd.Length != x.Rank) throw new ShapeError($"broadcast_in_dim: broadcast_dimensions {Fmt(bd)} must have one entry per operand dim (operand shape {x.Shape})");
            CheckAxes("broadcast_in_dim", bd, shape.Length);
            for (int i = 0; i < bd.Length; i++)
            {
                if (i > 0 && bd[i] <= bd[i - 1]) throw new ShapeError($"broadcast_in_dim: broadcast_dimensions {Fmt(bd)} must be strictly increasing");
                if (x.Shape[i] != 1 && x.Shape[i] != shape[bd[i]])
                    throw new ShapeError($"broadcast_in_dim: cannot broadcast operand of shape {x.Shape} to {new Shape(shape)} (operand dim {i} of size {x.Shape[i]} vs output dim {bd[i]} of size {shape[bd[i]]})");
            }
            return [new Aval(new Shape(shape), x.DType, x.Weak)];
        },
        (xs, p, o) =>
        {
            var x = xs[0];
            var outShape = o[0].Shape;
            if (x.Size == 1) return [SplatOf(x, o[0])];
            var bd = p.Ints("broadcast_dimensions");
            var inStrides = x.Shape.Strides();
            var strides = new int[outShape.Rank];
            for (int i = 0; i < bd.Length; i++) strides[bd[i]] = x.Shape[i] == 1 ? 0 : inStrides[i];
            return [KernelUtil.StridedTensor(x, 0, outShape.ToArray(), strides, o[0])];
        });

    internal static Tensor SplatOf(Tensor x, Aval o) => KernelUtil.Visit(x.Buffer!, new SplatFunc(o, x.Buffer!.Device));

    private sealed class SplatFunc(Aval o, Device device) : IArrayFunc<Tensor>
    {
        public Tensor Invoke<T>(T[] data) where T : unmanaged => Tensor.Splat(data[0], o.Shape, o.Weak, device);
    }

    /// <summary>reshape[new_sizes]: same number of elements, row-major order.</summary>
    public static readonly Primitive Reshape = new("reshape", "shape",
        (ins, p) =>
        {
            var s = new Shape(p.Ints("new_sizes"));
            if (s.Size != ins[0].Size) throw new ShapeError($"cannot reshape array of shape {ins[0].Shape} (size {ins[0].Size}) into shape {s} (size {s.Size})");
            return [ins[0] with { Shape = s }];
        },
        (xs, p, o) => [new Tensor(xs[0].Buffer!, o[0].Shape, o[0].Weak)]);

    /// <summary>transpose[permutation]: output dim i is operand dim permutation[i].</summary>
    public static readonly Primitive Transpose = new("transpose", "shape",
        (ins, p) =>
        {
            var perm = p.Ints("permutation");
            var x = ins[0];
            if (perm.Length != x.Rank) throw new AxisError($"transpose permutation {Fmt(perm)} does not match operand rank {x.Rank} (shape {x.Shape})");
            CheckAxes("transpose", perm, x.Rank);
            return [x with { Shape = new Shape(perm.Select(a => x.Shape[a]).ToArray()) }];
        },
        (xs, p, o) =>
        {
            var perm = p.Ints("permutation");
            var x = xs[0];
            if (perm.Select((a, i) => a == i).All(b => b)) return [x];
            var st = x.Shape.Strides();
            return [KernelUtil.StridedTensor(x, 0, o[0].Shape.ToArray(), perm.Select(a => st[a]).ToArray(), o[0])];
        });

    /// <summary>squeeze[dimensions]: removes the listed size-1 dims.</summary>
    public static readonly Primitive Squeeze = new("squeeze", "shape",
        (ins, p) =>
        {
            var x = ins[0];
            var dims = CheckAxes("squeeze", p.Ints("dimensions"), x.Rank);
            foreach (var d in dims)
                if (x.Shape[d] != 1) throw new ShapeError($"cannot squeeze axis {d} of shape {x.Shape}: its size is {x.Shape[d]}, not 1");
            return [x with { Shape = new Shape(Enumerable.Range(0, x.Rank).Where(i => !dims.Contains(i)).Select(i => x.Shape[i]).ToArray()) }];
        },
        (xs, p, o) => [new Tensor(xs[0].Buffer!, o[0].Shape, o[0].Weak)]);

    /// <summary>expand_dims[dimensions]: inserts size-1 dims at the listed output positions.</summary>
    public static readonly Primitive ExpandDims = new("expand_dims", "shape",
        (ins, p) =>
        {
            var x = ins[0];
            var dims = CheckAxes("expand_dims", p.Ints("dimensions"), x.Rank + p.Ints("dimensions").Length);
            var shape = new List<int>();
            int src = 0;
            for (int i = 0; i < x.Rank + dims.Length; i++) shape.Add(dims.Contains(i) ? 1 : x.Shape[src++]);
            return [x with { Shape = new Shape(shape.ToArray()) }];
        },
        (xs, p, o) => [new Tensor(xs[0].Buffer!, o[0].Shape, o[0].Weak)]);

    /// <summary>rev[dimensions]: reverses the order of elements along the listed dims.</summary>
    public static readonly Primitive Rev = new("rev", "shape",
        (ins, p) => { CheckAxes("rev", p.Ints("dimensions"), ins[0].Rank); return [ins[0]]; },
        (xs, p, o) =>
        {
            var x = xs[0];
            var st = x.Shape.Strides();
            int offset = 0;
            foreach (var d in p.Ints("dimensions")) { offset += (x.Shape[d] - 1) * st[d]; st[d] = -st[d]; }
            return [KernelUtil.StridedTensor(x, offset, x.Shape.ToArray(), st, o[0])];
        });

    /// <summary>slice[start_indices, limit_indices, strides]: static, in-bounds slicing.</summary>
    public static readonly Primitive Slice = new("slice", "shape",
        (ins, p) =>
        {
            var x = ins[0];
            var start = p.Ints("start_indices");
            var limit = p.Ints("limit_indices");
            var strides = p.Has("strides") && p["strides"] is not null ? p.Ints("strides") : Enumerable.Repeat(1, x.Rank).ToArray();
            if (start.Length != x.Rank || limit.Length != x.Rank || strides.Length != x.Rank)
                throw new ShapeError($"slice of an operand of shape {x.Shape} needs {x.Rank} start, limit and stride values, got {Fmt(start)}, {Fmt(limit)}, {Fmt(strides)}");
            var shape = new int[x.Rank];
            for (int i = 0; i < x.Rank; i++)
            {
                if (start[i] < 0 || limit[i] > x.Shape[i] || start[i] > limit[i] || strides[i] < 1)
                    throw new JxIndexError($"slice: start {Fmt(start)}, limit {Fmt(limit)}, strides {Fmt(strides)} are out of bounds for shape {x.Shape} at dim {i}");
                shape[i] = (limit[i] - start[i] + strides[i] - 1) / strides[i];
            }
            return [x with { Shape = new Shape(shape) }];
        },
        (xs, p, o) =>
        {
            var x = xs[0];
            var start = p.Ints("start_indices");
            var strides = p.Has("strides") && p["strides"] is not null ? p.Ints("strides") : Enumerable.Repeat(1, x.Rank).ToArray();
            var st = x.Shape.Strides();
            int offset = 0;
            for (int i = 0; i < x.Rank; i++) offset += start[i] * st[i];
            return [KernelUtil.StridedTensor(x, offset, o[0].Shape.ToArray(), st.Select((s, i) => s * strides[i]).ToArray(), o[0])];
        });

    /// <summary>concatenate[dimension]: operands agree on every other dim.</summary>
    public static readonly Primitive Concatenate = new("concatenate", "shape",
        (ins, p) =>
        {
            if (ins.Length == 0) throw new InvalidArgumentError("concatenate needs at least one operand");
            int dim = p.Int("dimension");
            var x0 = ins[0];
            if (dim < 0 || dim >= x0.Rank) throw new AxisError($"concatenate: dimension {dim} is out of range for rank {x0.Rank}");
            int total = 0;
            foreach (var x in ins)
            {
                if (x.DType != x0.DType) throw new DTypeError($"concatenate requires one dtype, got {string.Join(", ", ins.Select(i => i.DType.Name()))}");
                if (x.Rank != x0.Rank || Enumerable.Range(0, x0.Rank).Any(i => i != dim && x.Shape[i] != x0.Shape[i]))
                    throw new ShapeError($"concatenate along axis {dim}: shapes {string.Join(", ", ins.Select(i => i.Shape.ToString()))} differ outside that axis");
                total += x.Shape[dim];
            }
            var shape = x0.Shape.ToArray();
            shape[dim] = total;
            return [new Aval(new Shape(shape), x0.DType, Elementwise.AllWeak(ins))];
        },
        (xs, p, o) =>
        {
            int dim = p.Int("dimension");
            var shape = o[0].Shape;
            int outer = 1; for (int i = 0; i < dim; i++) outer *= shape[i];
            int inner = 1; for (int i = dim + 1; i < shape.Rank; i++) inner *= shape[i];
            var arr = KernelUtil.Visit(xs[0].Buffer!, new ConcatFunc(xs, dim, outer, inner, shape[dim]));
            return [KernelUtil.Wrap(arr, o[0], xs[0].Buffer!.Device)];
        });

    private sealed class ConcatFunc(Tensor[] xs, int dim, int outer, int inner, int total) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] first) where T : unmanaged
        {
            var dst = GC.AllocateUninitializedArray<T>(outer * total * inner);
            int off = 0;
            foreach (var x in xs)
            {
                var src = x.Buffer!.Array<T>();
                int block = x.Shape[dim] * inner;
                for (int o = 0; o < outer; o++)
                    src.AsSpan(o * block, block).CopyTo(dst.AsSpan(o * total * inner + off, block));
                off += block;
            }
            return dst;
        }
    }

    /// <summary>pad(operand, padding_value)[padding_config]: per dim (low, high, interior); low/high may be negative.</summary>
    public static readonly Primitive Pad = new("pad", "shape",
        (ins, p) =>
        {
            Elementwise.Check("pad", ins, 2);
            var (x, v) = (ins[0], ins[1]);
            if (v.Rank != 0) throw new ShapeError($"pad's padding_value must be a scalar, got shape {v.Shape}");
            if (v.DType != x.DType) throw new DTypeError($"pad's padding_value dtype {v.DType.Name()} differs from the operand's {x.DType.Name()}");
            var cfg = PadConfig(p, x.Rank);
            var shape = new int[x.Rank];
            for (int i = 0; i < x.Rank; i++)
            {
                var (lo, hi, interior) = cfg[i];
                if (interior < 0) throw new InvalidArgumentError($"pad: interior padding must be >= 0, got {interior} at dim {i}");
                int n = x.Shape[i];
                shape[i] = lo + hi + n + Math.Max(0, n - 1) * interior;
                if (shape[i] < 0) throw new ShapeError($"pad: dim {i} of size {n} with padding ({lo}, {hi}, {interior}) would have negative size");
            }
            return [x with { Shape = new Shape(shape) }];
        },
        (xs, p, o) =>
        {
            var x = xs[0];
            var cfg = PadConfig(p, x.Rank);
            var arr = KernelUtil.Visit(x.Buffer!, new PadFunc(x, xs[1].Buffer!, cfg, o[0].Shape));
            return [KernelUtil.Wrap(arr, o[0], x.Buffer!.Device)];
        });

    internal static (int Lo, int Hi, int Interior)[] PadConfig(Params p, int rank)
    {
        var cfg = p.Get<ParamList>("padding_config");
        if (cfg.Count != rank) throw new ShapeError($"pad: padding_config has {cfg.Count} entries for an operand of rank {rank}");
        return cfg.Select(c => { var l = (IntList)c!; return (l[0], l[1], l[2]); }).ToArray();
    }

    private sealed class PadFunc(Tensor x, Buffer value, (int Lo, int Hi, int Interior)[] cfg, Shape outShape) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] src) where T : unmanaged
        {
            var dst = new T[outShape.Size];
            dst.AsSpan().Fill(value.Get<T>(0));
            if (x.Size == 0 || dst.Length == 0) return dst;
            var ost = outShape.Strides();
            int rank = x.Rank;
            var idx = new int[rank];
            for (int flat = 0; flat < src.Length; flat++)
            {
                int off = 0;
                bool inside = true;
                for (int k = 0; k < rank; k++)
                {
                    int pos = cfg[k].Lo + idx[k] * (cfg[k].Interior + 1);
                    if (pos < 0 || pos >= outShape[k]) { inside = false; break; }
                    off += pos * ost[k];
                }
                if (inside) dst[off] = src[flat];
                for (int k = rank - 1; k >= 0; k--) { if (++idx[k] < x.Shape[k]) break; idx[k] = 0; }
            }
            return dst;
        }
    }

    /// <summary>iota[dtype, shape, dimension]: 0, 1, 2, ... along <c>dimension</c>, broadcast over the other dims.</summary>
    public static readonly Primitive Iota = new("iota", "shape",
        (ins, p) =>
        {
            var shape = new Shape(p.Ints("shape"));
            int dim = p.Int("dimension");
            if (dim < 0 || dim >= shape.Rank) throw new AxisError($"iota: dimension {dim} out of range for shape {shape}");
            var dt = p.DType("dtype");
            if (dt == DType.Bool) throw new DTypeError("iota does not produce bool");
            return [new Aval(shape, dt)];
        },
        (xs, p, o) =>
        {
            var shape = o[0].Shape;
            int dim = p.Int("dimension");
            int inner = 1; for (int i = dim + 1; i < shape.Rank; i++) inner *= shape[i];
            int n = shape[dim];
            Array? direct = o[0].DType switch
            {
                DType.Float32 => IotaValues<float>(shape.Size, n, inner),
                DType.Float64 => IotaValues<double>(shape.Size, n, inner),
                DType.Int32 => IotaValues<int>(shape.Size, n, inner),
                DType.Int64 => IotaValues<long>(shape.Size, n, inner),
                DType.UInt32 => IotaValues<uint>(shape.Size, n, inner),
                _ => null,
            };
            if (direct is not null) return [KernelUtil.Wrap(direct, o[0])];
            var vals = IotaValues<double>(shape.Size, n, inner);
            var t = Tensor.Own(vals, DType.Float64, shape);
            return [Conversions.Convert(t, o[0])];
        });

    /// <summary>The flat values of an iota of <paramref name="size"/> elements whose counted dim has length n and is
    /// followed by <paramref name="inner"/> elements: runs of equal values, written directly in the result's type.</summary>
    private static T[] IotaValues<T>(int size, int n, int inner) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        var a = GC.AllocateUninitializedArray<T>(size);
        for (int start = 0; start < size; start += n * inner)
            for (int j = 0; j < n; j++)
            {
                var v = T.CreateTruncating(j);
                if (inner == 1) a[start + j] = v;
                else a.AsSpan(start + j * inner, inner).Fill(v);
            }
        return a;
    }

    /// <summary>dynamic_slice(operand, *start_indices)[slice_sizes]: starts are clamped so the slice fits, as XLA does.</summary>
    public static readonly Primitive DynamicSlice = new("dynamic_slice", "shape",
        (ins, p) =>
        {
            var x = ins[0];
            var sizes = p.Ints("slice_sizes");
            if (ins.Length != x.Rank + 1 || sizes.Length != x.Rank)
                throw new ShapeError($"dynamic_slice of shape {x.Shape} needs {x.Rank} scalar start indices and slice sizes, got {ins.Length - 1} and {Fmt(sizes)}");
            for (int i = 1; i < ins.Length; i++)
                if (ins[i].Rank != 0 || !ins[i].DType.IsInteger()) throw new DTypeError($"dynamic_slice start indices must be integer scalars, got {ins[i]}");
            for (int i = 0; i < x.Rank; i++)
                if (sizes[i] < 0 || sizes[i] > x.Shape[i]) throw new JxIndexError($"dynamic_slice: slice size {sizes[i]} does not fit dim {i} of shape {x.Shape}");
            return [x with { Shape = new Shape(sizes) }];
        },
        (xs, p, o) =>
        {
            var x = xs[0];
            var sizes = p.Ints("slice_sizes");
            var st = x.Shape.Strides();
            int offset = 0;
            for (int i = 0; i < x.Rank; i++) offset += ClampStart(xs[i + 1], x.Shape[i], sizes[i]) * st[i];
            return [KernelUtil.StridedTensor(x, offset, sizes, st, o[0])];
        });

    internal static int ClampStart(Tensor index, int dim, int size) => (int)Math.Clamp((long)index.Buffer!.GetDouble(0), 0, dim - size);

    /// <summary>dynamic_update_slice(operand, update, *start_indices): starts are clamped so the update fits.</summary>
    public static readonly Primitive DynamicUpdateSlice = new("dynamic_update_slice", "shape",
        (ins, p) =>
        {
            var (x, u) = (ins[0], ins[1]);
            if (ins.Length != x.Rank + 2) throw new ShapeError($"dynamic_update_slice of shape {x.Shape} needs {x.Rank} start indices, got {ins.Length - 2}");
            if (u.Rank != x.Rank || Enumerable.Range(0, x.Rank).Any(i => u.Shape[i] > x.Shape[i]))
                throw new ShapeError($"dynamic_update_slice: update of shape {u.Shape} does not fit operand of shape {x.Shape}");
            if (u.DType != x.DType) throw new DTypeError($"dynamic_update_slice: update dtype {u.DType.Name()} differs from operand dtype {x.DType.Name()}");
            for (int i = 2; i < ins.Length; i++)
                if (ins[i].Rank != 0 || !ins[i].DType.IsInteger()) throw new DTypeError($"dynamic_update_slice start indices must be integer scalars, got {ins[i]}");
            return [x];
        },
        (xs, p, o) =>
        {
            var (x, u) = (xs[0], xs[1]);
            var starts = Enumerable.Range(0, x.Rank).Select(i => ClampStart(xs[i + 2], x.Shape[i], u.Shape[i])).ToArray();
            var arr = KernelUtil.Visit(x.Buffer!, new UpdateSliceFunc(x, u, starts));
            return [KernelUtil.Wrap(arr, o[0], x.Buffer!.Device)];
        });

    private sealed class UpdateSliceFunc(Tensor x, Tensor u, int[] starts) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] src) where T : unmanaged
        {
            var dst = (T[])src.Clone();
            var usrc = u.Buffer!.Array<T>();
            var st = x.Shape.Strides();
            int rank = x.Rank;
            if (u.Size == 0) return dst;
            var idx = new int[rank];
            for (int flat = 0; flat < usrc.Length; flat++)
            {
                int off = 0;
                for (int k = 0; k < rank; k++) off += (starts[k] + idx[k]) * st[k];
                dst[off] = usrc[flat];
                for (int k = rank - 1; k >= 0; k--) { if (++idx[k] < u.Shape[k]) break; idx[k] = 0; }
            }
            return dst;
        }
    }

    internal static string Fmt(int[] a) => "(" + string.Join(", ", a) + (a.Length == 1 ? ",)" : ")");
}
