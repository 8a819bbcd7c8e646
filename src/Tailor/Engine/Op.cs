using System.Reflection;

namespace Tailor.Engine;

/// <summary>
/// The computation of one ONNX node: shape inference, forward and backward side by side. An op reads its
/// attributes and validates them once, in its constructor (which takes an <see cref="OpContext"/>), so the
/// compute path is lean. Ops register themselves with <see cref="OnnxOpAttribute"/>; <see cref="OpRegistry"/>
/// finds them by reflection.
/// </summary>
internal abstract class Op
{
    protected Op(OpContext context)
    {
        OpType = context.OpType;
        NodeName = context.NodeName;
    }

    public string OpType { get; }
    public string NodeName { get; }

    /// <summary>The output shape for the inputs' current shapes. Called once per distinct batch size.</summary>
    public abstract int[] InferShape(Node output);

    /// <summary>Grows scratch buffers for the current shapes (called after <see cref="InferShape"/>).</summary>
    public virtual void Reserve(Node output) { }

    public abstract void Forward(Node output, bool training);

    /// <summary>
    /// Adds d(loss)/d(input) to the gradient of every input that <see cref="Node.RequiresGradient"/>, given
    /// <c>output.Gradient</c>. Inputs that need none (frozen weights, the cached input) are skipped.
    /// </summary>
    public virtual void Backward(Node output) =>
        throw Fail("has no gradient rule; it cannot be in the trainable part of the graph (move the cut after it).");

    /// <summary>Whether the op can pass a gradient to input <paramref name="inputIndex"/>; checked when the graph is built.</summary>
    public virtual bool CanDifferentiate(int inputIndex) => true;

    protected TailorException Fail(string message) => OpContext.Error(OpType, NodeName, message);

    protected static int[] SameShape(Node output) => output.Inputs[0]!.Shape;
}

/// <summary>Declares which ONNX op type (default domain) an <see cref="Op"/> subclass implements.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
internal sealed class OnnxOpAttribute(string opType) : Attribute
{
    public string OpType { get; } = opType;

    /// <summary>
    /// True when the op can compute any output of its node, told by <see cref="OpContext.OutputIndex"/>; each used
    /// output then gets its own op instance. Otherwise only output 0 can be used after the cut.
    /// </summary>
    public bool MultipleOutputs { get; init; }
}

/// <summary>All ops of this assembly, found once by their <see cref="OnnxOpAttribute"/> — no hand-kept list.</summary>
internal static class OpRegistry
{
    static readonly Dictionary<string, (ConstructorInfo Constructor, bool MultipleOutputs)> Constructors = Discover();

    public static IEnumerable<string> SupportedOpTypes => Constructors.Keys.Order(StringComparer.Ordinal);

    public static bool IsSupported(string opType) => Constructors.ContainsKey(opType);

    /// <summary>Whether the engine runs <paramref name="opType"/> and has its gradient rule: backprop can pass through it.</summary>
    public static bool CanTrainThrough(string opType) =>
        Constructors.TryGetValue(opType, out var entry)
        && entry.Constructor.DeclaringType!.GetMethod(nameof(Op.Backward))!.DeclaringType != typeof(Op);

    public static Op Create(OpContext context)
    {
        if (!Constructors.TryGetValue(context.OpType, out var entry))
            throw context.Fail($"op type '{context.OpType}' is not supported by the training engine. Supported: {string.Join(", ", SupportedOpTypes)}.");
        var (ctor, multipleOutputs) = entry;
        if (context.OutputIndex != 0 && !multipleOutputs)
            throw context.Fail($"its output '{context.OutputName}' (output {context.OutputIndex}) is used after the cut, but the engine computes only this op's first output.");
        try
        {
            return (Op)ctor.Invoke([context]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    static Dictionary<string, (ConstructorInfo, bool)> Discover()
    {
        var result = new Dictionary<string, (ConstructorInfo, bool)>(StringComparer.Ordinal);
        foreach (var type in typeof(Op).Assembly.GetTypes())
        {
            if (type.IsAbstract || !type.IsSubclassOf(typeof(Op)))
                continue;
            var ctor = type.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, [typeof(OpContext)])
                ?? throw new InvalidOperationException($"{type.Name} needs a constructor taking an OpContext.");
            foreach (var attribute in type.GetCustomAttributes<OnnxOpAttribute>())
                result.Add(attribute.OpType, (ctor, attribute.MultipleOutputs));
        }
        return result;
    }
}
