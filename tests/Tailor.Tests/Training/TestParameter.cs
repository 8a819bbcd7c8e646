using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>A plain array-backed parameter for optimizer tests.</summary>
internal sealed class TestParameter : ITrainableParameter
{
    private readonly float[] _value;
    private readonly float[] _gradient;

    public TestParameter(string name, params float[] value) : this(name, [value.Length], value) { }

    public TestParameter(string name, int[] shape, float[] value)
    {
        Name = name;
        Shape = shape;
        _value = value;
        _gradient = new float[value.Length];
    }

    public string Name { get; }
    public IReadOnlyList<int> Shape { get; }
    public Span<float> Value => _value;
    public Span<float> Gradient => _gradient;
    public float[] Values => _value;
    public float[] Gradients => _gradient;
}
