namespace Tailor.Training;

/// <summary>
/// A trainable tensor as the optimizers see it: a name (the ONNX initializer it came from), its values,
/// and the gradient accumulated by the last backward pass. Both spans have the same length and stay at
/// the same address for the life of the parameter, so optimizers can keep per-parameter state by index.
/// </summary>
public interface ITrainableParameter
{
    /// <summary>The ONNX initializer name, e.g. <c>classifier.weight</c>.</summary>
    string Name { get; }

    /// <summary>The shape, row-major.</summary>
    IReadOnlyList<int> Shape { get; }

    /// <summary>The current values; optimizers update them in place.</summary>
    Span<float> Value { get; }

    /// <summary>The gradient of the loss with respect to <see cref="Value"/>, summed over the mini-batch
    /// and divided by its size (the mean), as written by the last backward pass.</summary>
    Span<float> Gradient { get; }
}
