namespace Tailor.Engine;

/// <summary>What a node of the engine graph is, which decides where its value comes from.</summary>
internal enum NodeKind
{
    /// <summary>A tensor the frozen prefix produced, copied in by <see cref="SuffixGraph.SetInput"/>.</summary>
    CutInput,
    /// <summary>A frozen initializer (or an ONNX Constant): never changes, never gets a gradient.</summary>
    Constant,
    /// <summary>A trainable initializer: gets a gradient, updated by the optimizer.</summary>
    Parameter,
    /// <summary>The output of an op.</summary>
    Computed,
}

/// <summary>
/// One tensor of the static graph: its value, its gradient, the op that computes it and that op's inputs.
/// Buffers are sized for the largest batch planned so far and only the first <see cref="Length"/>
/// elements are live, so a smaller last batch reuses them without allocating.
/// </summary>
internal sealed class Node
{
    public Node(string name, NodeKind kind, Op? op, Node?[] inputs)
    {
        Name = name;
        Kind = kind;
        Op = op;
        Inputs = inputs;
    }

    public string Name { get; }
    public NodeKind Kind { get; }
    public Op? Op { get; }

    /// <summary>The op's inputs in ONNX order; null where an optional input is absent.</summary>
    public Node?[] Inputs { get; }

    /// <summary>Row-major shape for the current batch size; replaced (not mutated) when the batch size changes.</summary>
    public int[] Shape { get; set; } = [];
    public int Length { get; set; }

    public float[] ValueBuffer { get; set; } = [];
    public float[] GradientBuffer { get; set; } = [];

    /// <summary>Integer payload of an int64 constant (Reshape's shape); empty for float tensors.</summary>
    public long[] Int64Value { get; set; } = [];

    /// <summary>True when the loss depends on this node through some trainable parameter, so backward visits it.</summary>
    public bool RequiresGradient { get; set; }

    /// <summary>
    /// True once something wrote to the gradient in this backward pass. Intermediate gradients are cleared
    /// lazily on first write (see <see cref="GradientForAccumulation"/>) instead of all up front, and nodes
    /// that never received one (a Softmax output under the fused cross-entropy) are skipped.
    /// </summary>
    public bool HasGradient { get; set; }

    public Span<float> Value => ValueBuffer.AsSpan(0, Length);
    public Span<float> Gradient => GradientBuffer.AsSpan(0, Length);

    /// <summary>The gradient buffer, ready for <c>+=</c>: zeroed first if nothing wrote to it yet in this pass.</summary>
    public Span<float> GradientForAccumulation()
    {
        var g = Gradient;
        if (!HasGradient)
        {
            g.Clear();
            HasGradient = true;
        }
        return g;
    }

    /// <summary>The gradient buffer for an op that adds to it or, when <paramref name="fresh"/> (nothing wrote to it yet in
    /// this pass), writes every element: no clearing pass over a buffer the op overwrites anyway.</summary>
    public Span<float> GradientForWriting(out bool fresh)
    {
        fresh = !HasGradient;
        HasGradient = true;
        return Gradient;
    }

    /// <summary>Makes the buffers hold at least <see cref="Length"/> elements; grows only, never shrinks.</summary>
    public void EnsureCapacity()
    {
        if (ValueBuffer.Length < Length && Kind is NodeKind.Computed or NodeKind.CutInput)
            ValueBuffer = new float[Length];
        if (RequiresGradient && GradientBuffer.Length < Length)
            GradientBuffer = new float[Length];
    }

    public int Dim(int axis) => Shape[axis < 0 ? axis + Shape.Length : axis];

    public override string ToString() => $"{Name} [{string.Join(",", Shape)}]";
}
