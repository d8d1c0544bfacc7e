using System.Globalization;
using System.Text;

namespace Jx;

/// <summary>NumPy-style text for concrete tensors, as <c>str(numpy_array)</c> prints it: <c>[[1. 2.]\n [3. 4.]]</c>,
/// floats aligned on the decimal point with up to 8 fraction digits (scientific notation when the magnitudes call
/// for it), <c>" True"</c>/<c>"False"</c> for bools, lines wrapped at 75 characters, and summarization ("...", three
/// items at each edge) above 1000 elements. A rank-0 tensor prints like a NumPy scalar: <c>1.0</c>, <c>3</c>, <c>True</c>.</summary>
internal static class TensorFormatter
{
    private const int Threshold = 1000, EdgeItems = 3, LineWidth = 75, Precision = 8;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Format(Tensor t)
    {
        var b = t.Buffer!;
        if (t.Rank == 0) return FormatScalar(t.DType, b);
        if (t.Size == 0) return "[]";
        bool summarize = t.Size > Threshold;
        var shape = t.Shape;
        // The elements that are printed: all of them, or the edge items of every long axis when summarizing.
        var shown = new List<int>();
        CollectShown(shape, 0, 0, summarize, shown);
        var format = MakeElementFormat(t.DType, b, shown);
        return Render(shape, 0, 0, " ", LineWidth, summarize, format);
    }

    private static void CollectShown(Shape shape, int dim, int offset, bool summarize, List<int> shown)
    {
        if (dim == shape.Rank) { shown.Add(offset); return; }
        int n = shape[dim], stride = 1;
        for (int k = dim + 1; k < shape.Rank; k++) stride *= shape[k];
        bool cut = summarize && n > 2 * EdgeItems;
        for (int i = 0; i < n; i++)
        {
            if (cut && i >= EdgeItems && i < n - EdgeItems) continue;
            CollectShown(shape, dim + 1, offset + i * stride, summarize, shown);
        }
    }

    // ----- the nesting and line wrapping of numpy's _formatArray (separator ' ', hanging indent ' ') -----

    private static string Render(Shape shape, int dim, int offset, string hanging, int width, bool summarize, Func<int, string> format)
    {
        int n = shape[dim], stride = 1;
        for (int k = dim + 1; k < shape.Rank; k++) stride *= shape[k];
        int axesLeft = shape.Rank - dim;
        string nextHanging = hanging + " ";
        int nextWidth = width - 1;
        bool showSummary = summarize && 2 * EdgeItems < n;
        int leading = showSummary ? EdgeItems : 0, trailing = showSummary ? EdgeItems : n;
        var order = new List<int>();
        for (int i = 0; i < leading; i++) order.Add(i);
        for (int i = trailing; i >= 1; i--) order.Add(n - i);
        var s = new StringBuilder();
        if (axesLeft == 1)
        {
            int elemWidth = width - 1;
            var line = new StringBuilder(hanging);
            for (int j = 0; j < order.Count; j++)
            {
                if (showSummary && j == leading)
                {
                    Extend(s, line, "...", elemWidth, hanging);
                    line.Append(' ');
                }
                Extend(s, line, format(offset + order[j] * stride), elemWidth, hanging);
                if (j < order.Count - 1) line.Append(' ');
            }
            s.Append(line);
        }
        else
        {
            var lineSep = new string('\n', axesLeft - 1);
            for (int j = 0; j < order.Count; j++)
            {
                if (showSummary && j == leading) s.Append(hanging).Append("...").Append(lineSep);
                s.Append(hanging).Append(Render(shape, dim + 1, offset + order[j] * stride, nextHanging, nextWidth, summarize, format));
                if (j < order.Count - 1) s.Append(lineSep);
            }
        }
        return "[" + s.ToString(hanging.Length, s.Length - hanging.Length) + "]";
    }

    private static void Extend(StringBuilder s, StringBuilder line, string word, int width, string hanging)
    {
        bool wrap = line.Length + word.Length > width && line.Length > hanging.Length;
        if (wrap)
        {
            s.Append(line.ToString().TrimEnd()).Append('\n');
            line.Clear().Append(hanging);
        }
        line.Append(word);
    }

    // ----- element formats (numpy's BoolFormat, IntegerFormat and FloatingFormat with precision 8, maxprec) -----

    private static Func<int, string> MakeElementFormat(DType d, Buffer b, List<int> shown)
    {
        if (d == DType.Bool) return i => b.Get<bool>(i) ? " True" : "False";
        if (!d.IsFloating())
        {
            string Str(int i) => d == DType.Int64 ? b.Get<long>(i).ToString(Inv) : b.GetDouble(i).ToString(Inv);
            int w = shown.Max(i => Str(i).Length);
            return i => Str(i).PadLeft(w);
        }
        var finite = shown.Select(b.GetDouble).Where(double.IsFinite).ToArray();
        var nonZero = finite.Where(v => v != 0).Select(Math.Abs).ToArray();
        bool exp = false;
        if (nonZero.Length > 0)
        {
            double max = nonZero.Max(), min = nonZero.Min();
            exp = max >= 1e8 || min < 1e-4 || max / min > 1000;
        }
        int padLeft = 0, padRight = 0, precision = 0, expSize = 0;
        if (finite.Length > 0)
        {
            if (exp)
            {
                var parts = finite.Select(v => Scientific(v, d, Precision)).ToArray();
                expSize = parts.Max(p => p.ExpDigits.Length);
                precision = parts.Max(p => p.Frac.Length);
                padLeft = parts.Max(p => p.Int.Length);
                padRight = expSize + 2 + precision;
            }
            else
            {
                var parts = finite.Select(v => Positional(v, d)).Select(s => s.Split('.')).ToArray();
                padLeft = parts.Max(p => p[0].Length);
                padRight = parts.Max(p => p[1].Length);
            }
        }
        if (finite.Length != shown.Count)
        {
            bool negInf = shown.Select(b.GetDouble).Any(v => double.IsNegativeInfinity(v));
            padLeft = Math.Max(padLeft, Math.Max(3 - (padRight + 1), 3 + (negInf ? 1 : 0) - (padRight + 1)));
        }
        int pl = padLeft, pr = padRight, p = precision, es = expSize;
        return i =>
        {
            double v = b.GetDouble(i);
            if (!double.IsFinite(v))
                return (double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf").PadLeft(pl + pr + 1);
            if (exp)
            {
                var (ip, frac, sign, digits) = Scientific(v, d, p, minDigits: p);
                return $"{ip}.{frac}".PadLeft(pl + 1 + frac.Length) + "e" + sign + digits.PadLeft(es, '0');
            }
            var parts = Positional(v, d).Split('.');
            return parts[0].PadLeft(pl) + "." + parts[1].PadRight(pr);
        };
    }

    /// <summary>A 0-d array prints as NumPy prints the scalar: positional for 1e-4 ≤ |x| &lt; 1e16 (or 0), with
    /// ".0" for integral values, else scientific without trailing zeros ("1e+20").</summary>
    internal static string FormatScalar(DType d, Buffer b)
    {
        if (d == DType.Bool) return b.Get<bool>(0) ? "True" : "False";
        if (d == DType.Int64) return b.Get<long>(0).ToString(Inv);
        double v = b.GetDouble(0);
        if (!d.IsFloating()) return v.ToString(Inv);
        if (double.IsNaN(v)) return "nan";
        if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
        double a = Math.Abs(v);
        var (neg, digits, e) = Shortest(v, d);
        if (a == 0 || (a >= 1e-4 && a < 1e16))
        {
            var s = PositionalFrom(neg, digits, e);
            return s.EndsWith('.') ? s + "0" : s;
        }
        var mant = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        return (neg ? "-" : "") + mant + "e" + (e < 0 ? "-" : "+") + Math.Abs(e).ToString("00", Inv);
    }

    // ----- shortest round-trip digits of a value of a given dtype -----

    /// <summary>The shortest decimal digits that read back as the same value of dtype <paramref name="d"/>:
    /// value = ±d0.d1d2… × 10^e.</summary>
    private static (bool Neg, string Digits, int Exp) Shortest(double v, DType d)
    {
        string s = d switch
        {
            DType.Float32 => ((float)v).ToString("R", Inv),
            DType.Float16 => ((Half)v).ToString(Inv),
            DType.BFloat16 => ShortestBFloat16((float)v),
            _ => v.ToString("R", Inv),
        };
        return Decompose(s);
    }

    private static string ShortestBFloat16(float f)
    {
        var bits = ((BFloat16)f).Bits;
        for (int p = 0; p < 9; p++)
        {
            var s = f.ToString("E" + p, Inv);
            if (((BFloat16)float.Parse(s, Inv)).Bits == bits) return s;
        }
        return f.ToString("R", Inv);
    }

    private static (bool Neg, string Digits, int Exp) Decompose(string s)
    {
        bool neg = s.StartsWith('-');
        if (neg) s = s[1..];
        int exp10 = 0;
        int ei = s.IndexOfAny(['E', 'e']);
        if (ei >= 0) { exp10 = int.Parse(s[(ei + 1)..], NumberStyles.AllowLeadingSign, Inv); s = s[..ei]; }
        int dot = s.IndexOf('.');
        string intPart = dot < 0 ? s : s[..dot], frac = dot < 0 ? "" : s[(dot + 1)..];
        string all = (intPart + frac).TrimStart('0');
        if (all.Length == 0) return (neg, "0", 0);
        int lead = (intPart + frac).Length - all.Length; // leading zeros
        int e = intPart.Length - 1 - lead + exp10;
        all = all.TrimEnd('0');
        return (neg, all.Length == 0 ? "0" : all, e);
    }

    private static string PositionalFrom(bool neg, string digits, int e)
    {
        string ip, frac;
        if (digits == "0") { ip = "0"; frac = ""; }
        else if (e >= 0)
        {
            ip = digits.Length > e + 1 ? digits[..(e + 1)] : digits.PadRight(e + 1, '0');
            frac = digits.Length > e + 1 ? digits[(e + 1)..] : "";
        }
        else { ip = "0"; frac = new string('0', -e - 1) + digits; }
        return (neg ? "-" : "") + ip + "." + frac;
    }

    /// <summary>Positional text with the shortest unique digits, rounded to at most 8 fraction digits, trailing zeros
    /// trimmed but the point kept ("1.", "2.5", "0.33333334").</summary>
    private static string Positional(double v, DType d)
    {
        var (neg, digits, e) = Shortest(v, d);
        var s = PositionalFrom(neg, digits, e);
        if (s.Length - s.IndexOf('.') - 1 <= Precision) return s;
        var r = v.ToString("F" + Precision, Inv).TrimEnd('0');
        return r == "-0." && !neg ? "0." : r;
    }

    /// <summary>Scientific parts: integer digit (with sign), fraction digits, exponent sign and digits. With
    /// <paramref name="minDigits"/>, exactly that many fraction digits (further digits of the exact value).</summary>
    private static (string Int, string Frac, char Sign, string ExpDigits) Scientific(double v, DType d, int precision, int minDigits = -1)
    {
        var (neg, digits, e) = Shortest(v, d);
        string mant;
        if (digits.Length - 1 > precision || (minDigits >= 0 && digits.Length - 1 != minDigits))
        {
            int p = minDigits >= 0 ? minDigits : precision;
            var s = v.ToString("E" + p, Inv);
            int ei = s.IndexOf('E');
            e = int.Parse(s[(ei + 1)..], NumberStyles.AllowLeadingSign, Inv);
            mant = s[..ei].TrimStart('-');
            if (minDigits < 0 && mant.Contains('.')) mant = mant.TrimEnd('0');
        }
        else mant = digits.Length == 1 ? digits + "." : digits[0] + "." + digits[1..];
        if (!mant.Contains('.')) mant += ".";
        var parts = mant.Split('.');
        return ((neg ? "-" : "") + parts[0], parts[1], e < 0 ? '-' : '+', Math.Abs(e).ToString("00", Inv));
    }
}
