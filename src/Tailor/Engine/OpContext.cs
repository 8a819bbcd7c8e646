using Onnx;
using Tailor.Onnx;

namespace Tailor.Engine;

/// <summary>
/// What an op's constructor sees: the ONNX node (attributes), the opset, its resolved inputs, and which of the
/// node's outputs this op computes. A node whose several outputs are used (Split, Dropout's mask) becomes one
/// engine node per used output, each with its own op (see <see cref="OnnxOpAttribute.MultipleOutputs"/>).
/// </summary>
internal sealed class OpContext
{
    readonly NodeProto node;

    public OpContext(NodeProto node, int opset, Node?[] inputs, int seed = 0, int outputIndex = 0)
    {
        OutputIndex = outputIndex;
        Seed = seed;
        this.node = node;
        Opset = opset;
        Inputs = inputs;
        OpType = node.OpType;
        // ONNX node names are optional; the first output name is unique in a valid graph, so it identifies the node.
        NodeName = node.Name.Length > 0 ? node.Name : (node.Output.Count > 0 ? node.Output[0] : "?");
    }

    public string OpType { get; }
    public string NodeName { get; }
    public int Opset { get; }

    /// <summary>Which output of the ONNX node this op computes (0 for single-output ops).</summary>
    public int OutputIndex { get; }

    /// <summary>How many outputs the ONNX node declares (Split without a 'split' list divides into this many parts).</summary>
    public int OutputCount => node.Output.Count;

    /// <summary>The name of the output this op computes.</summary>
    public string OutputName => node.Output[OutputIndex];

    /// <summary>The graph's random seed, for ops that draw random numbers (Dropout).</summary>
    public int Seed { get; }
    public Node?[] Inputs { get; }

    public static TailorException Error(string opType, string nodeName, string message) =>
        new($"{opType} node '{nodeName}': {message}");

    public TailorException Fail(string message) => Error(OpType, NodeName, message);

    AttributeProto? Find(string name) => node.Attribute(name);

    public bool Has(string name) => Find(name) is not null;

    public long Int(string name, long defaultValue) => Find(name) is { } a
        ? a.Type == AttributeProto.Types.AttributeType.Ints ? throw WrongType(name, "a list of integers (INTS)", "one integer (INT)") : a.I
        : defaultValue;

    public float Float(string name, float defaultValue) => Find(name) is { } a ? a.F : defaultValue;

    /// <summary>
    /// A string attribute. Some exporters (CNTK, which produced the embedded ResNet18) write string attributes
    /// as the integer 0 for "unset" (auto_pad = 0); an attribute that is not a string and holds no string
    /// counts as absent.
    /// </summary>
    public string String(string name, string defaultValue) =>
        Find(name) is { } a && (a.Type == AttributeProto.Types.AttributeType.String || !a.S.IsEmpty) ? a.S.ToStringUtf8() : defaultValue;

    /// <summary>A list-of-integers attribute (INTS). One stored as a single INT is refused, as ONNX Runtime refuses it:
    /// reading its (empty) list would silently mean "all axes" or "no padding".</summary>
    public long[]? Ints(string name) => Find(name) is { } a
        ? a.Type == AttributeProto.Types.AttributeType.Int ? throw WrongType(name, "one integer (INT)", "a list of integers (INTS)") : [.. a.Ints]
        : null;

    TailorException WrongType(string name, string stored, string needed) =>
        Fail($"attribute '{name}' is stored as {stored}; this op takes {needed}. Re-export the model with the attribute's ONNX type.");

    public int[]? IntsAsInt32(string name) => Ints(name) is { } v ? Array.ConvertAll(v, x => checked((int)x)) : null;

    /// <summary>Input <paramref name="index"/>, which must be present.</summary>
    public Node Input(int index) =>
        index < Inputs.Length && Inputs[index] is { } n ? n : throw Fail($"input {index} is missing.");

    public Node? OptionalInput(int index) => index < Inputs.Length ? Inputs[index] : null;

    /// <summary>The values of a constant float input (an initializer or Constant), or null if the input is absent.</summary>
    public float[]? ConstantFloats(int index, string what)
    {
        if (OptionalInput(index) is not { } n)
            return null;
        if (n.Kind != NodeKind.Constant)
            throw Fail($"{what} (input {index}, '{n.Name}') must be a frozen initializer or Constant, not a computed or trainable tensor.");
        return n.Int64Value.Length > 0 ? Array.ConvertAll(n.Int64Value, x => (float)x) : n.Value.ToArray();
    }

    /// <summary>The values of a constant int64 input (Reshape's shape), or null if the input is absent.</summary>
    public long[]? ConstantInt64s(int index, string what)
    {
        if (OptionalInput(index) is not { } n)
            return null;
        if (n.Kind != NodeKind.Constant)
            throw Fail($"{what} (input {index}, '{n.Name}') must be a constant initializer; shapes computed at run time are not supported.");
        return n.Int64Value.Length > 0 || n.Length == 0 ? n.Int64Value : Array.ConvertAll(n.Value.ToArray(), x => (long)x);
    }
}
