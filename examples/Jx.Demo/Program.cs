using System.Diagnostics;
using System.Globalization;
using System.Text;
using Jx;
using Spectre.Console;
using static Jx.Transforms;

namespace Jx.Demo;

/// <summary>The parameters of a two-layer perceptron: a pytree, so Grad returns the same type.</summary>
[Pytree]
public partial record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

/// <summary>Training state: parameters, Adam's moment estimates (same pytree type) and the step count.</summary>
[Pytree]
public partial record TrainState(Mlp Params, Mlp M, Mlp V, Tensor Step);

public static class Program
{
    public static int Main(string[] args)
    {
        var total = Stopwatch.StartNew();
        AnsiConsole.MarkupLine("[bold]Jx demo[/] — JAX for C#. Device: {0}; matmul backend: {1}", Jax.DefaultDevice, Markup.Escape(Gemm.Backend));

        // 1. Arrays: NumPy broadcasting, JAX type promotion (C# literals are weakly typed).
        var a = Np.Array(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var b = Np.Arange(3).AsType(DType.Float32);
        Section("Arrays");
        Console.WriteLine($"a =\n{a}\na * 2 + b =\n{a * 2 + b}   dtype {(a * 2).DType.Name()}");
        Console.WriteLine($"a[.., 1..] =\n{a[.., 1..]}   a.Mean(axis 0) = {a.Mean(0)}");

        // 2. The IR of a function.
        Section("A jaxpr");
        Func<Tensor, Tensor> gelu = x => Nn.Gelu(x);
        Console.WriteLine(Jax.MakeJaxpr(gelu)(Np.Ones([3])));

        // 3. Random keys: JAX's threefry, bit for bit.
        Section("Random keys");
        var key = Random.Key(0);
        Console.WriteLine($"Split(Key(0)) =\n{Random.Split(key)}\nUniform(Key(0), [3]) = {Random.Uniform(key, [3])}");

        // 4. Differentiation.
        Section("Derivatives");
        Func<Tensor, Tensor> tanh = x => Np.Tanh(x);
        var two = Tensor.Scalar(2.0); // float64
        Console.WriteLine($"d/dx tanh(2) = {Grad(tanh)(two).Item<double>():R}, d²/dx² = {Grad(Grad(tanh))(two).Item<double>():R}");
        var hess = Hessian(x => Np.Sum(Np.Square(Np.Maximum(x, 0f))))(Np.Array(new float[] { -1, 0, 1 }));
        Console.WriteLine($"Hessian of sum(max(x,0)²) at [-1,0,1] has diagonal {hess[Np.Arange(3), Np.Arange(3)]} (JAX splits ties 0.5/0.5)");

        // 5. Train an MLP on the UCI digits with ValueAndGrad and Adam written as tree maps.
        Section("Training an MLP on UCI digits (80/20 split)");
        var dataPath = Path.Combine(AppContext.BaseDirectory, "data", "digits.csv.gz");
        var (xAll, yAll) = Digits.Load(dataPath);
        int n = yAll.Length, nTrain = (int)(0.8 * n);
        var perm = Random.Permutation(Random.Key(42), n).ToArray<int>();
        var X = Np.Array(xAll);
        var Y = Tensor.FromArray(yAll);
        var permT = Tensor.FromArray(perm);
        var xTrain = X[permT[..nTrain]]; var yTrain = Y[permT[..nTrain]];
        var xTest = X[permT[nTrain..]]; var yTest = Y[permT[nTrain..]];
        // Standardize each pixel with the training split's statistics.
        var mu = xTrain.Mean(0);
        var sd = Np.Sqrt(xTrain.Var(0)) + 0.1f;
        xTrain = (xTrain - mu) / sd;
        xTest = (xTest - mu) / sd;

        var keys = Random.Split(Random.Key(1), 2);
        var p = new Mlp(Random.Normal(keys[0], [64, 128]) * (1 / Math.Sqrt(64)), Np.Zeros([128]),
                        Random.Normal(keys[1], [128, 10]) * (1 / Math.Sqrt(128)), Np.Zeros([10]));

        static Tensor Logits(Mlp p, Tensor x) => Nn.Relu(x.Matmul(p.W1) + p.B1).Matmul(p.W2) + p.B2;
        static Tensor Loss(Mlp p, Tensor x, Tensor y) => Nn.SoftmaxCrossEntropyWithIntegerLabels(Logits(p, x), y).Mean();
        static double Accuracy(Mlp p, Tensor x, Tensor y) => Np.Mean(Np.Equal(Np.Argmax(Logits(p, x), -1), y)).Item<double>();

        Console.WriteLine(Jax.MakeJaxpr<Mlp, Tensor, Tensor, Tensor>(Loss)(p, xTrain[..8], yTrain[..8]));

        // One jitted training step: loss and gradient, then Adam (optax defaults) as tree maps — traced once, fused, compiled.
        const float lr = 3e-3f, b1 = 0.9f, b2 = 0.999f;
        var valueAndGrad = ValueAndGrad<Mlp, Tensor, Tensor>(Loss);
        var trainStep = Jit((TrainState s, Tensor x, Tensor y) =>
        {
            var (loss, g) = valueAndGrad(s.Params, x, y);
            var t = s.Step + 1f;
            var m = Tree.Map((mi, gi) => b1 * mi + (1 - b1) * gi, s.M, g);
            var v = Tree.Map((vi, gi) => b2 * vi + (1 - b2) * gi * gi, s.V, g);
            var c1 = 1f - Np.Power(Tensor.Scalar(b1), t);
            var c2 = 1f - Np.Power(Tensor.Scalar(b2), t);
            var newParams = Tree.Map((pi, mi, vi) => pi - lr * (mi / c1) / (Np.Sqrt(vi / c2) + 1e-8f), s.Params, m, v);
            return (new TrainState(newParams, m, v, t), loss);
        });
        var state = new TrainState(p, Tree.Map(x => Np.ZerosLike(x), p), Tree.Map(x => Np.ZerosLike(x), p), Tensor.Scalar(0f));
        const int epochs = 40, batch = 64;
        var lowered = trainStep.Lower(state, xTrain[..batch], yTrain[..batch]);
        Console.WriteLine($"The jitted training step runs {lowered.KernelCount} kernels (fused loops and BLAS calls).");
        if (Environment.GetEnvironmentVariable("JX_DEMO_SHOW_KERNELS") == "1") Console.WriteLine(lowered.FusionGroups);
        var losses = new List<double>();
        double acc = 0;
        var trainWatch = Stopwatch.StartNew();
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn()).Start(ctx =>
        {
            var task = ctx.AddTask("epoch 0", maxValue: epochs);
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                var order = Tensor.FromArray(Random.Permutation(Random.FoldIn(Random.Key(7), epoch), nTrain).ToArray<int>());
                double epochLoss = 0;
                int batches = 0;
                for (int s0 = 0; s0 + batch <= nTrain; s0 += batch)
                {
                    var idx = order[s0..(s0 + batch)];
                    var (next, loss) = trainStep(state, xTrain[idx], yTrain[idx]);
                    state = next;
                    epochLoss += loss.Item<double>();
                    batches++;
                }
                losses.Add(epochLoss / batches);
                acc = Accuracy(state.Params, xTest, yTest);
                task.Description = $"epoch {epoch,2}  loss {losses[^1]:F4}  test accuracy {acc:P1}";
                task.Increment(1);
            }
        });
        p = state.Params;
        Console.WriteLine($"final: loss {losses[^1]:F4}, test accuracy {acc:P2} on {n - nTrain} held-out digits ({trainWatch.Elapsed.TotalSeconds:F1} s of training)");

        // 6. Per-example gradient norms through Vmap(Grad).
        Section("Per-example gradient norms (Vmap of Grad)");
        var perExample = Vmap((Tensor x1, Tensor y1) => Grad<Mlp, Tensor, Tensor>((pp, xx, yy) => Loss(pp, xx[TensorIndex.NewAxis], yy[TensorIndex.NewAxis]))(p, x1, y1), inAxes: [0, 0]);
        var grads = perExample(xTest[..8], yTest[..8]);
        var norms = Np.Sqrt(Tree.Leaves(grads).Select(l => Np.Sum(Np.Square(l.Reshape(8, -1)), [1])).Aggregate((x1, y1) => x1 + y1));
        Console.WriteLine($"‖∇ loss‖ for 8 test digits: {norms}");

        // 7. CheckGrads on the loss (in float64) against finite differences.
        Section("CheckGrads");
        var p64 = Tree.Map(l => l.AsType(DType.Float64), p);
        var x64 = xTest[..4].AsType(DType.Float64);
        CheckGrads((Mlp pp) => Loss(pp, x64, yTest[..4]), p64, order: 1, eps: 1e-6); // a small step: ReLU kinks stay uncrossed
        Console.WriteLine("CheckGrads passed: the loss's derivatives, forward and reverse mode, agree with central differences (float64).");

        // 8. The loss curve as SVG.
        var svg = Path.GetFullPath("loss_curve.svg");
        File.WriteAllText(svg, LossCurveSvg(losses));
        Console.WriteLine($"\nLoss curve written to {svg}. Total time {total.Elapsed.TotalSeconds:F1} s.");
        return acc >= 0.9 ? 0 : 1;
    }

    private static void Section(string title) => AnsiConsole.Write(new Rule($"[yellow]{title}[/]").LeftJustified());

    private static string LossCurveSvg(List<double> losses)
    {
        const int w = 480, h = 240, pad = 30;
        double max = losses.Max(), min = Math.Min(0, losses.Min());
        var pts = losses.Select((l, i) => $"{pad + i * (w - 2 * pad) / Math.Max(1, losses.Count - 1):F1},{h - pad - (l - min) / (max - min) * (h - 2 * pad):F1}");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\">");
        sb.Append($"<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
        sb.Append($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{string.Join(" ", pts)}\"/>");
        sb.Append($"<text x=\"{pad}\" y=\"18\" font-size=\"12\">training loss per epoch (max {max.ToString("F3", CultureInfo.InvariantCulture)})</text></svg>");
        return sb.ToString();
    }
}
