using Tailor.Training;

namespace Tailor.Engine;

/// <summary>
/// The trainable suffix of an ONNX network as a static autograd graph: compiled once from ONNX (see
/// <see cref="Build"/>), then driven batch by batch — <see cref="SetInput"/>, <see cref="Forward"/>,
/// seed the loss gradient (a loss from <c>Tailor.Engine.Losses</c>, or <see cref="SeedGradient"/>),
/// <see cref="Backward"/>, let the optimizer update <see cref="Parameters"/>, <see cref="ZeroGradients"/>.
/// </summary>
/// <remarks>
/// Every buffer is allocated when a batch size is first seen and reused afterwards: a training step at a
/// batch size already seen allocates nothing. Buffers keep the size of the largest batch, so the smaller
/// last batch of an epoch uses a prefix of them. Not thread-safe: one graph, one training loop.
/// </remarks>
public sealed partial class SuffixGraph
{
    readonly Node[] inputs;
    readonly Node[] outputs;
    readonly int[][] inputExampleShapes;
    readonly Node[] all;        // topological order: leaves first, every node after its inputs
    readonly Node[] computed;   // the op nodes of `all`, same order
    readonly Dictionary<string, Node> byName;
    readonly Dictionary<int, int[][]> shapesByBatchSize = [];
    readonly int[] inputBatchSizes;
    readonly Dictionary<string, ITrainableParameter> parameters;

    SuffixGraph(Node[] inputs, int[][] inputExampleShapes, Node[] outputs, Node[] all)
    {
        this.inputs = inputs;
        this.inputExampleShapes = inputExampleShapes;
        this.outputs = outputs;
        this.all = all;
        computed = [.. all.Where(n => n.Op is not null)];
        byName = all.ToDictionary(n => n.Name);
        inputBatchSizes = new int[inputs.Length];
        InputNames = Array.AsReadOnly(inputs.Select(n => n.Name).ToArray());
        OutputNames = Array.AsReadOnly(outputs.Select(n => n.Name).ToArray());
        parameters = all.Where(n => n.Kind == NodeKind.Parameter)
            .ToDictionary(n => n.Name, n => (ITrainableParameter)new Parameter(n));
        foreach (var p in all.Where(n => n.Kind == NodeKind.Parameter))
            p.HasGradient = true; // parameter gradients start at zero, accumulate across passes until ZeroGradients
        if (inputs.Length == 0)
            PlanBatch(1); // an input-free graph (all leaves are initializers) has fixed shapes
    }

    /// <summary>Trainable parameters keyed by ONNX initializer name, to hand to an optimizer and to copy back into the model.</summary>
    public IReadOnlyDictionary<string, ITrainableParameter> Parameters => parameters;

    /// <summary>The cut tensors, fed from the feature cache, in the order given to <see cref="Build"/>.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The tensors the graph was built to compute, in the order given to <see cref="Build"/>.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>The batch size the buffers are currently shaped for (0 before the first <see cref="SetInput"/>).</summary>
    public int BatchSize { get; private set; }

    /// <summary>The shape of one example of cut input <paramref name="name"/> (without the batch dimension).</summary>
    public IReadOnlyList<int> InputExampleShape(string name) => inputExampleShapes[InputIndex(name)];

    /// <summary>
    /// Copies a batch of cut-tensor values in: <paramref name="values"/> holds <paramref name="batchSize"/>
    /// examples back to back, each of <see cref="InputExampleShape"/>. A batch size not seen before shapes
    /// (and if larger, grows) every buffer once.
    /// </summary>
    /// <exception cref="TailorException">Unknown input, batch size below 1, or a length that is not batchSize × example size.</exception>
    public void SetInput(string name, ReadOnlySpan<float> values, int batchSize)
    {
        int index = InputIndex(name);
        if (batchSize < 1)
            throw new TailorException($"Batch size must be at least 1, got {batchSize}.");
        int exampleSize = 1;
        foreach (int d in inputExampleShapes[index])
            exampleSize *= d;
        if (values.Length != exampleSize * batchSize)
            throw new TailorException($"Input '{name}' expects {batchSize} × {exampleSize} = {batchSize * exampleSize} values, got {values.Length}.");
        if (batchSize != BatchSize)
            PlanBatch(batchSize);
        values.CopyTo(inputs[index].Value);
        inputBatchSizes[index] = batchSize;
    }

    /// <summary>
    /// The buffer of cut input <paramref name="index"/> (in <see cref="InputNames"/> order) for a batch of
    /// <paramref name="batchSize"/> examples, to be filled in place: what <see cref="SetInput"/> does without the copy
    /// from a caller's buffer (a training batch reads the feature cache straight into it).
    /// </summary>
    internal Span<float> InputBuffer(int index, int batchSize)
    {
        if (batchSize < 1)
            throw new TailorException($"Batch size must be at least 1, got {batchSize}.");
        if (batchSize != BatchSize)
            PlanBatch(batchSize);
        inputBatchSizes[index] = batchSize;
        return inputs[index].Value;
    }

    /// <summary>
    /// Computes every node from the inputs. <paramref name="training"/> turns Dropout on; BatchNormalization
    /// always uses its running statistics (see the BatchNormalization op).
    /// </summary>
    /// <exception cref="TailorException">An input was not set for the current batch size.</exception>
    public void Forward(bool training)
    {
        for (int i = 0; i < inputs.Length; i++)
            if (inputBatchSizes[i] != BatchSize)
                throw new TailorException($"Input '{inputs[i].Name}' was not set for batch size {BatchSize}; call SetInput for every input first.");
        foreach (var node in computed)
            node.Op!.Forward(node, training);
    }

    /// <summary>The values of tensor <paramref name="name"/> (an output or any intermediate) after <see cref="Forward"/>.</summary>
    public ReadOnlySpan<float> Output(string name) => NodeNamed(name).Value;

    /// <summary>The shape of tensor <paramref name="name"/> for the current batch size.</summary>
    public ReadOnlySpan<int> OutputShape(string name) => NodeNamed(name).Shape;

    /// <summary>The gradient d(loss)/d(tensor) written by the last <see cref="Backward"/> (zero-length if the tensor needs none).</summary>
    public ReadOnlySpan<float> GradientOf(string name)
    {
        var n = NodeNamed(name);
        return !n.RequiresGradient ? default : n.Kind == NodeKind.Parameter ? n.GradientForAccumulation() : n.Gradient;
    }

    /// <summary>Adds <paramref name="gradient"/> = d(loss)/d(<paramref name="name"/>) to that tensor's gradient, before <see cref="Backward"/>.</summary>
    /// <exception cref="TailorException">The tensor does not depend on any trainable parameter, or the length is wrong.</exception>
    public void SeedGradient(string name, ReadOnlySpan<float> gradient)
    {
        var n = NodeNamed(name);
        var g = GradientBufferFor(n);
        if (gradient.Length != g.Length)
            throw new TailorException($"Gradient for '{name}' needs {g.Length} values, got {gradient.Length}.");
        System.Numerics.Tensors.TensorPrimitives.Add(g, gradient, g);
    }

    /// <summary>Sets every parameter gradient to zero; call before each step's backward (gradients accumulate otherwise).</summary>
    /// <remarks>Lazily: a parameter's gradient is cleared when first added to or read, and an op that writes every element
    /// (a convolution's weight gradient) overwrites it instead, so a big gradient is not swept once more to clear it.</remarks>
    public void ZeroGradients()
    {
        foreach (var n in all)
            n.HasGradient = false;
    }

    /// <summary>
    /// Propagates the seeded gradients back through the graph in reverse topological order, adding
    /// d(loss)/d(parameter) into each parameter's <see cref="ITrainableParameter.Gradient"/>.
    /// Intermediate gradients are consumed: the next pass starts them from zero.
    /// </summary>
    public void Backward()
    {
        for (int i = computed.Length - 1; i >= 0; i--)
        {
            var node = computed[i];
            if (node.RequiresGradient && node.HasGradient)
                node.Op!.Backward(node);
        }
        foreach (var n in computed)
            n.HasGradient = false;
    }

    internal Node NodeNamed(string name) =>
        byName.TryGetValue(name, out var n) ? n : throw new TailorException($"The training graph has no tensor named '{name}'.");

    /// <summary>The gradient buffer of <paramref name="node"/>, ready for <c>+=</c> (losses seed through this).</summary>
    internal static Span<float> GradientBufferFor(Node node) =>
        node.RequiresGradient
            ? node.GradientForAccumulation()
            : throw new TailorException($"Tensor '{node.Name}' does not depend on any trainable parameter, so it takes no gradient.");

    int InputIndex(string name)
    {
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].Name == name)
                return i;
        throw new TailorException($"'{name}' is not an input of the training graph; inputs: {string.Join(", ", inputs.Select(n => n.Name))}.");
    }

    /// <summary>Shapes every node for <paramref name="batchSize"/>; the first time a size is seen, infers shapes and grows buffers.</summary>
    void PlanBatch(int batchSize)
    {
        if (shapesByBatchSize.TryGetValue(batchSize, out var shapes))
        {
            for (int i = 0; i < all.Length; i++)
                SetShape(all[i], shapes[i]);
        }
        else
        {
            shapes = new int[all.Length][];
            for (int i = 0; i < inputs.Length; i++)
                SetShape(inputs[i], [batchSize, .. inputExampleShapes[i]]);
            for (int i = 0; i < all.Length; i++)
            {
                var node = all[i];
                if (node.Op is { } op)
                {
                    SetShape(node, op.InferShape(node));
                    node.EnsureCapacity();
                    op.Reserve(node);
                }
                else
                {
                    node.EnsureCapacity();
                }
                shapes[i] = node.Shape;
            }
            shapesByBatchSize[batchSize] = shapes;
        }
        BatchSize = batchSize;
    }

    static void SetShape(Node node, int[] shape)
    {
        node.Shape = shape;
        long length = 1;
        foreach (int d in shape)
            length *= d;
        node.Length = checked((int)length);
    }

    /// <summary>A trainable initializer as the optimizers see it; spans over buffers allocated once at build.</summary>
    sealed class Parameter(Node node) : ITrainableParameter
    {
        readonly int[] shape = node.Shape;
        public string Name => node.Name;
        public IReadOnlyList<int> Shape => shape;
        public Span<float> Value => node.ValueBuffer.AsSpan(0, node.Length);
        /// <summary>Zero after <see cref="ZeroGradients"/> until a backward pass adds to it.</summary>
        public Span<float> Gradient => node.GradientForAccumulation();
    }
}
