using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Jx.Benchmarks;

/// <summary>(e): the control-flow benchmark's loss and gradients written by hand — the Elman RNN's forward pass, then
/// its backward pass over stored hidden states — on the same kernels the compiled scan runs on
/// (<see cref="SmallGemm"/> for the five 32×64×64 products of a step, <see cref="JitRuntime.Tanh(Vector512{float})"/>), with nothing a
/// compiler would add: no buffer bookkeeping, no per-step dispatch, no copies. It measures what this algorithm costs on
/// this machine, which bounds what (a) <c>Jit(ValueAndGrad(Scan))</c> could reach.
/// <para>With <c>twoThreads</c> the work off the recurrence moves to a second thread, pipelined through rings of
/// per-step buffers: the forward input projection x_t·Wx runs ahead of the recurrence, and the backward weight and
/// bias gradients (h_{t−1}ᵀ·δ_t, x_tᵀ·δ_t, Σ δ_t) run behind it. The recurrence (h·Wh and tanh forward; δ and δ·Whᵀ
/// backward) stays on the calling thread. Each gradient is summed by one thread in step order, so both forms give the
/// same bits.</para></summary>
internal sealed unsafe class HandRnn : IDisposable
{
    private const int B = 32, H = 64, I = 64, Ring = 16;
    private const int BH = B * H;
    private readonly int _steps;
    private readonly float* _wh, _whT, _wx, _bias, _xs, _hs, _z, _dh, _dWh, _dWx, _db, _xwRing, _deltaRing;
    // Progress of the two threads in steps (written by one thread, read by the other).
    private long _aheadDone, _mainFwdDone, _mainBwdDone, _behindDone;

    public HandRnn(float[] wh, float[] wx, float[] b, float[] xs, int steps)
    {
        _steps = steps;
        _wh = Copy(wh);
        _wx = Copy(wx);
        _bias = Copy(b);
        _xs = Copy(xs);
        _whT = Alloc(H * H);
        for (int i = 0; i < H; i++) for (int j = 0; j < H; j++) _whT[j * H + i] = wh[i * H + j];
        _hs = Alloc((long)(steps + 1) * BH); // _hs[0] = h_0 = 0, _hs[t + 1] = h_t
        _z = Alloc(BH);
        _dh = Alloc(BH);
        _dWh = Alloc(H * H);
        _dWx = Alloc(I * H);
        _db = Alloc(H);
        _xwRing = Alloc(Ring * BH);
        _deltaRing = Alloc(Ring * BH);
    }

    private static float* Alloc(long n)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        new Span<float>(p, checked((int)n)).Clear();
        return p;
    }

    private static float* Copy(float[] a)
    {
        var p = Alloc(a.Length);
        a.CopyTo(new Span<float>(p, a.Length));
        return p;
    }

    public float[] GradWh => new Span<float>(_dWh, H * H).ToArray();
    public float[] GradWx => new Span<float>(_dWx, I * H).ToArray();
    public float[] GradB => new Span<float>(_db, H).ToArray();

    /// <summary>Runs the forward and backward passes; returns the loss Σ_t mean(h_t) and leaves the gradients in
    /// <see cref="GradWh"/>, <see cref="GradWx"/> and <see cref="GradB"/>.</summary>
    public float Run(bool twoThreads)
    {
        new Span<float>(_dh, BH).Clear();
        new Span<float>(_dWh, H * H).Clear();
        new Span<float>(_dWx, I * H).Clear();
        new Span<float>(_db, H).Clear();
        if (!twoThreads) return OneThread();
        _aheadDone = _mainFwdDone = _mainBwdDone = _behindDone = 0;
        Exception? failed = null;
        var helper = new Thread(() =>
        {
            try { Helper(); }
            catch (Exception e) { failed = e; Volatile.Write(ref _behindDone, long.MaxValue / 2); Volatile.Write(ref _aheadDone, long.MaxValue / 2); }
        }) { IsBackground = true, Name = "HandRnn helper" };
        helper.Start();
        float loss;
        try { loss = MainThread(); }
        catch
        {
            // Release the helper from its waits, so that it ends instead of spinning for the rest of the process.
            Volatile.Write(ref _mainFwdDone, long.MaxValue / 2);
            Volatile.Write(ref _mainBwdDone, long.MaxValue / 2);
            helper.Join();
            throw;
        }
        helper.Join();
        if (failed is not null) throw new InvalidOperationException("the helper thread failed", failed);
        return loss;
    }

    private float OneThread()
    {
        float loss = 0;
        for (long t = 0; t < _steps; t++)
        {
            SmallGemm.Multiply(_xs + t * B * I, false, _wx, _z, B, H, I, false, default);
            SmallGemm.Multiply(_hs + t * BH, false, _wh, _z, B, H, H, true, default);
            loss += TanhAndMean(_z, _hs + (t + 1) * BH);
        }
        for (long t = _steps - 1; t >= 0; t--)
        {
            Delta(_hs + (t + 1) * BH, _z);
            SmallGemm.Multiply(_z, false, _whT, _dh, B, H, H, false, default);
            Gradients(t, _z);
        }
        return loss;
    }

    private float MainThread()
    {
        float loss = 0;
        for (long t = 0; t < _steps; t++)
        {
            WaitFor(ref _aheadDone, t + 1);
            float* xw = _xwRing + t % Ring * BH;
            SmallGemm.Multiply(_hs + t * BH, false, _wh, xw, B, H, H, true, default);
            loss += TanhAndMean(xw, _hs + (t + 1) * BH);
            Volatile.Write(ref _mainFwdDone, t + 1);
        }
        for (long k = 0; k < _steps; k++)
        {
            WaitFor(ref _behindDone, k + 1 - Ring); // the ring slot is free
            long t = _steps - 1 - k;
            float* delta = _deltaRing + k % Ring * BH;
            Delta(_hs + (t + 1) * BH, delta);
            SmallGemm.Multiply(delta, false, _whT, _dh, B, H, H, false, default);
            Volatile.Write(ref _mainBwdDone, k + 1);
        }
        WaitFor(ref _behindDone, _steps);
        return loss;
    }

    private void Helper()
    {
        for (long t = 0; t < _steps; t++)
        {
            WaitFor(ref _mainFwdDone, t + 1 - Ring); // the ring slot is free
            SmallGemm.Multiply(_xs + t * B * I, false, _wx, _xwRing + t % Ring * BH, B, H, I, false, default);
            Volatile.Write(ref _aheadDone, t + 1);
        }
        for (long k = 0; k < _steps; k++)
        {
            WaitFor(ref _mainBwdDone, k + 1);
            Gradients(_steps - 1 - k, _deltaRing + k % Ring * BH);
            Volatile.Write(ref _behindDone, k + 1);
        }
    }

    private static void WaitFor(ref long progress, long wanted)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref progress) < wanted) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>h = tanh(z + b); returns mean(h).</summary>
    private float TanhAndMean(float* z, float* h)
    {
        var sum = Vector512<float>.Zero;
        for (int r = 0; r < B; r++)
            for (int j = 0; j < H; j += 16)
            {
                var v = JitRuntime.Tanh(Vector512.Load(z + r * H + j) + Vector512.Load(_bias + j));
                Vector512.Store(v, h + r * H + j);
                sum += v;
            }
        return Vector512.Sum(sum) / BH;
    }

    /// <summary>δ_t = (1/(B·H) + dh) ⊙ (1 − h_t²): the loss's gradient at h_t (its own mean, plus what the later steps
    /// send back through dh) through tanh.</summary>
    private void Delta(float* h, float* delta)
    {
        var g = Vector512.Create(1f / BH);
        for (int i = 0; i < BH; i += 16)
        {
            var hv = Vector512.Load(h + i);
            Vector512.Store((g + Vector512.Load(_dh + i)) * (Vector512<float>.One - hv * hv), delta + i);
        }
    }

    /// <summary>dWh += h_{t−1}ᵀ·δ_t, dWx += x_tᵀ·δ_t, db += Σ_rows δ_t.</summary>
    private void Gradients(long t, float* delta)
    {
        SmallGemm.Multiply(_hs + t * BH, true, delta, _dWh, H, H, B, true, default);
        SmallGemm.Multiply(_xs + t * B * I, true, delta, _dWx, I, H, B, true, default);
        for (int j = 0; j < H; j += 16)
        {
            var s = Vector512.Load(_db + j);
            for (int r = 0; r < B; r++) s += Vector512.Load(delta + r * H + j);
            Vector512.Store(s, _db + j);
        }
    }

    public void Dispose()
    {
        foreach (var p in new[] { _wh, _whT, _wx, _bias, _xs, _hs, _z, _dh, _dWh, _dWx, _db, _xwRing, _deltaRing })
            NativeMemory.AlignedFree(p);
    }
}
