namespace Jx;

public partial class Tensor
{
    /// <summary>Converts to another dtype (convert_element_type).</summary>
    public Tensor AsType(DType dtype) => Lax.ConvertElementType(this, dtype);
    public Tensor Reshape(params int[] shape) => Np.Reshape(this, shape);
    public Tensor Ravel() => Np.Ravel(this);
    public Tensor Flatten() => Np.Ravel(this);
    /// <summary>Reverses the axes (a matrix transpose for rank 2).</summary>
    public Tensor T => Np.Transpose(this);
    /// <summary>The matrix transpose of the last two axes (mT).</summary>
    public Tensor MT => Np.SwapAxes(this, -1, -2);
    public Tensor Transpose(params int[] axes) => Np.Transpose(this, axes.Length == 0 ? null : axes);
    public Tensor Squeeze(params int[] axes) => Np.Squeeze(this, axes.Length == 0 ? null : axes);
    public Tensor ExpandDims(int axis) => Np.ExpandDims(this, axis);
    public Tensor BroadcastTo(Shape shape) => Np.BroadcastTo(this, shape);

    public Tensor Sum(int[]? axes = null, bool keepDims = false) => Np.Sum(this, axes, keepDims);
    public Tensor Sum(int axis, bool keepDims = false) => Np.Sum(this, [axis], keepDims);
    public Tensor Mean(int[]? axes = null, bool keepDims = false) => Np.Mean(this, axes, keepDims);
    public Tensor Mean(int axis, bool keepDims = false) => Np.Mean(this, [axis], keepDims);
    public Tensor Max(int[]? axes = null, bool keepDims = false) => Np.Max(this, axes, keepDims);
    public Tensor Max(int axis, bool keepDims = false) => Np.Max(this, [axis], keepDims);
    public Tensor Min(int[]? axes = null, bool keepDims = false) => Np.Min(this, axes, keepDims);
    public Tensor Min(int axis, bool keepDims = false) => Np.Min(this, [axis], keepDims);
    public Tensor Prod(int[]? axes = null, bool keepDims = false) => Np.Prod(this, axes, keepDims);
    public Tensor Var(int[]? axes = null, bool keepDims = false) => Np.Var(this, axes, keepDims);
    public Tensor Var(int axis, bool keepDims = false) => Np.Var(this, [axis], keepDims);
    public Tensor Std(int axis, bool keepDims = false) => Np.Std(this, [axis], keepDims);
    public Tensor Std(int[]? axes = null, bool keepDims = false) => Np.Std(this, axes, keepDims);
    public Tensor Argmax(int? axis = null) => Np.Argmax(this, axis);
    public Tensor Argmin(int? axis = null) => Np.Argmin(this, axis);
    public Tensor Any() => Np.Any(this);
    public Tensor All() => Np.All(this);

    public Tensor Matmul(Tensor other) => Np.Matmul(this, other);
    public Tensor Dot(Tensor other) => Np.Dot(this, other);
    public Tensor Abs() => Np.Abs(this);
    public Tensor Exp() => Np.Exp(this);
    public Tensor Log() => Np.Log(this);
    public Tensor Sqrt() => Np.Sqrt(this);
    public Tensor Square() => Np.Square(this);
    public Tensor Tanh() => Np.Tanh(this);
    public Tensor Pow(Tensor p) => Np.Power(this, p);
    public Tensor Clip(Tensor? min = null, Tensor? max = null) => Np.Clip(this, min, max);
}
