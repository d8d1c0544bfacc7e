using System.Runtime.InteropServices;

namespace Jx.Benchmarks;

/// <summary>CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID), which, unlike wall time, does not
/// grow while other processes hold the CPU.</summary>
internal static partial class ThreadCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGettime(int clock, out Timespec ts);

    private const int ClockThreadCpuTimeId = 3;

    /// <summary>Nanoseconds of CPU time used by this thread so far, or null where the clock is unavailable.</summary>
    public static long? Nanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return ClockGettime(ClockThreadCpuTimeId, out var ts) == 0 ? ts.Sec * 1_000_000_000 + ts.Nsec : null; }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }
}

/// <summary>How much CPU other processes used while a phase of the benchmark ran (Linux /proc), so that a noisy
/// neighbour shows up in the report instead of silently slowing one side of a comparison.</summary>
internal readonly record struct CpuLoad(long MachineBusy, long MachineTotal, long Own)
{
    /// <summary>Now, or null where /proc is not readable.</summary>
    public static CpuLoad? Snapshot()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...
            long F(int i) => i < cpu.Length ? long.Parse(cpu[i]) : 0;
            long busy = F(1) + F(2) + F(3) + F(6) + F(7) + F(8);
            long total = busy + F(4) + F(5);
            var self = File.ReadAllText("/proc/self/stat");
            var fields = self[(self.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ": state=0 ... utime=11 stime=12 cutime=13 cstime=14 (0-based here).
            long own = long.Parse(fields[11]) + long.Parse(fields[12]) + long.Parse(fields[13]) + long.Parse(fields[14]);
            return new CpuLoad(busy, total, own);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Minor page faults of this process so far (first touches of fresh memory), or 0 where /proc is not readable.</summary>
    public static long MinorFaults()
    {
        try
        {
            var self = File.ReadAllText("/proc/self/stat");
            return long.Parse(self[(self.LastIndexOf(')') + 2)..].Split(' ')[7]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>The fraction of all CPUs' time between two snapshots that other processes were running
    /// (children that this process waited for, like the PyTorch peer, count as its own).</summary>
    public static double? Foreign(CpuLoad? from, CpuLoad? to)
    {
        if (from is not CpuLoad a || to is not CpuLoad b) return null;
        long total = b.MachineTotal - a.MachineTotal;
        if (total <= 0) return null;
        long foreign = (b.MachineBusy - a.MachineBusy) - (b.Own - a.Own);
        return Math.Clamp((double)foreign / total, 0, 1);
    }

    /// <summary>Waits (up to <paramref name="maxSeconds"/>) for a 2-second window in which other processes use less
    /// than <paramref name="threshold"/> of the CPUs; returns the last window's foreign load.</summary>
    public static double? WaitQuiet(double maxSeconds, double threshold = 0.05)
    {
        var deadline = DateTime.UtcNow.AddSeconds(maxSeconds);
        double? last;
        do
        {
            var a = Snapshot();
            Thread.Sleep(2000);
            last = Foreign(a, Snapshot());
            if (last is null || last < threshold) return last;
        } while (DateTime.UtcNow < deadline);
        return last;
    }
}
