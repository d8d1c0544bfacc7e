using System.Diagnostics;
using System.Text;

namespace Jx;

/// <summary>Per-primitive wall-clock totals of eager kernel executions, for finding where an eager program spends its
/// time. Off by default (one flag test per primitive call); turn it on with <c>JX_PROFILE_EAGER=1</c> or
/// <see cref="Enabled"/>. Counts are per primitive name and output shapes.</summary>
/// <example><code>
/// EagerProfiler.Reset(); EagerProfiler.Enabled = true;
/// var y = Np.Tanh(Np.Ones([1000, 1000]));
/// EagerProfiler.Enabled = false;
/// Console.WriteLine(EagerProfiler.Report());
/// </code></example>
public static class EagerProfiler
{
    private static readonly Dictionary<string, (long Ticks, int Calls)> Totals = new();
    private static readonly object Lock = new();

    /// <summary>Whether eager kernels are timed.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("JX_PROFILE_EAGER") == "1";

    /// <summary>Forgets all totals.</summary>
    public static void Reset() { lock (Lock) Totals.Clear(); }

    internal static long Start() => Stopwatch.GetTimestamp();

    internal static void Stop(Primitive p, Aval[] outs, long start)
    {
        long dt = Stopwatch.GetTimestamp() - start;
        var key = p.Name + " -> " + string.Join(", ", outs.Select(a => a.ToString()));
        lock (Lock)
        {
            Totals.TryGetValue(key, out var v);
            Totals[key] = (v.Ticks + dt, v.Calls + 1);
        }
    }

    /// <summary>A table of the <paramref name="top"/> most expensive (primitive, output avals) pairs: total ms, calls,
    /// and share of the profiled kernel time.</summary>
    public static string Report(int top = 25)
    {
        List<KeyValuePair<string, (long Ticks, int Calls)>> rows;
        lock (Lock) rows = Totals.OrderByDescending(kv => kv.Value.Ticks).ToList();
        double total = rows.Sum(r => (double)r.Value.Ticks);
        var sb = new StringBuilder();
        sb.AppendLine($"eager kernels: {total * 1000 / Stopwatch.Frequency:F1} ms in {rows.Sum(r => r.Value.Calls)} calls");
        foreach (var (key, (ticks, calls)) in rows.Take(top))
            sb.AppendLine($"{ticks * 1000.0 / Stopwatch.Frequency,10:F2} ms {calls,7} calls {100 * ticks / Math.Max(total, 1),5:F1}%  {key}");
        return sb.ToString();
    }
}
