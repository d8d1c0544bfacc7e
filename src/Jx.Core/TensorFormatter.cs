using System.Globalization;
using System.Text;

namespace Jx;

/// <summary>NumPy-style text for concrete tensors: <c>[[1. 2.]\n [3. 4.]]</c>, with summarization ("...") above 1000 elements.</summary>
internal static class TensorFormatter
{
    private const int Threshold = 1000, EdgeItems = 3;

    public static string Format(Tensor t)
    {
        var b = t.Buffer!;
        var vals = new string[b.Length];
        bool summarize = t.Size > Threshold;
        bool isFloat = t.DType.IsFloating();
        var nums = Enumerable.Range(0, b.Length).Select(b.GetDouble).ToArray();
        bool sci = false;
        if (isFloat)
        {
            var finite = nums.Where(v => double.IsFinite(v) && v != 0).Select(Math.Abs).ToArray();
            if (finite.Length > 0 && (finite.Max() >= 1e8 || finite.Min() < 1e-4)) sci = true;
        }
        for (int i = 0; i < vals.Length; i++) vals[i] = FormatOne(t.DType, nums[i], b, i, sci);
        if (isFloat && !sci)
        {
            // Align on the decimal point as NumPy does: pad the integer part left and the fraction right.
            int intW = 0, fracW = 0;
            foreach (var v in vals)
            {
                int dot = v.IndexOf('.');
                if (dot < 0) { intW = Math.Max(intW, v.Length); continue; }
                intW = Math.Max(intW, dot);
                fracW = Math.Max(fracW, v.Length - dot - 1);
            }
            for (int i = 0; i < vals.Length; i++)
            {
                var v = vals[i];
                int dot = v.IndexOf('.');
                if (dot < 0) { vals[i] = v.PadLeft(intW + 1 + fracW); continue; }
                vals[i] = v[..dot].PadLeft(intW) + v[dot..].PadRight(fracW + 1);
            }
        }
        else
        {
            int w = vals.Length == 0 ? 0 : vals.Max(v => v.Length);
            for (int i = 0; i < vals.Length; i++) vals[i] = vals[i].PadLeft(w);
        }
        if (t.Rank == 0) return vals[0].Trim();
        var sb = new StringBuilder();
        Render(sb, t.Shape, 0, 0, vals, summarize);
        return sb.ToString();
    }

    private static string FormatOne(DType d, double v, Buffer b, int i, bool sci)
    {
        if (d == DType.Bool) return v != 0 ? "True" : "False";
        if (!d.IsFloating()) return d == DType.Int64 ? b.Get<long>(i).ToString(CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);
        if (double.IsNaN(v)) return "nan";
        if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
        if (sci) return v.ToString("0.########e+00", CultureInfo.InvariantCulture);
        string s = d == DType.Float32 ? b.Get<float>(i).ToString("R", CultureInfo.InvariantCulture)
            : d == DType.Float64 ? Math.Round(v, 8).ToString("R", CultureInfo.InvariantCulture)
            : ((float)v).ToString("R", CultureInfo.InvariantCulture);
        if (d == DType.Float32 && s.Contains('.') && s.Length - s.IndexOf('.') - 1 > 8)
            s = Math.Round(v, 8).ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E')) s = v.ToString("0.########e+00", CultureInfo.InvariantCulture);
        else if (!s.Contains('.')) s += ".";
        return s;
    }

    private static void Render(StringBuilder sb, Shape shape, int dim, int offset, string[] vals, bool summarize)
    {
        int n = shape[dim];
        int stride = 1;
        for (int k = dim + 1; k < shape.Rank; k++) stride *= shape[k];
        sb.Append('[');
        var idx = Enumerable.Range(0, n).ToList();
        bool cut = summarize && n > 2 * EdgeItems;
        if (cut) idx = idx.Take(EdgeItems).Concat(idx.Skip(n - EdgeItems)).ToList();
        for (int j = 0; j < idx.Count; j++)
        {
            if (j > 0)
            {
                if (dim == shape.Rank - 1) sb.Append(' ');
                else sb.Append(new string('\n', shape.Rank - dim - 1)).Append(new string(' ', dim + 1));
            }
            if (cut && j == EdgeItems)
            {
                sb.Append("...");
                if (dim == shape.Rank - 1) sb.Append(' ');
                else sb.Append(new string('\n', shape.Rank - dim - 1)).Append(new string(' ', dim + 1));
            }
            int i = idx[j];
            if (dim == shape.Rank - 1) sb.Append(vals[offset + i]);
            else Render(sb, shape, dim + 1, offset + i * stride, vals, summarize);
        }
        sb.Append(']');
    }
}
