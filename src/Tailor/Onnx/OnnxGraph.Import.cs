using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Tailor.Onnx;

/// <summary>
/// The import passes: rewrites that make a graph as exporters write it (PyTorch's above all) into the plain form the
/// walks, the cut and the training engine analyse. They run on a base model when it is prepared or adopted, and again on a
/// model before its suffix is built (they change nothing in a graph already imported).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Constant nodes become initializers (frozen inputs, as the prefix and the engine see them).</item>
/// <item>An Identity of an initializer becomes an initializer of its own holding the source's value. PyTorch's exporter
/// stores equal tensors once and hands them to their other readers through Identity nodes (torchvision's zero biases):
/// in PyTorch each was its own parameter, so each becomes its own initializer again, named as in PyTorch.</item>
/// <item>Shape subgraphs (Shape, Gather, Unsqueeze, Squeeze, Concat, Slice, Cast, Add/Sub/Mul/Div, ConstantOfShape) fold
/// into constants: the input size is fixed, so every shape is static except the batch. The shapes are read once from ONNX
/// Runtime at batch 1 and the subgraph is evaluated at two batch sizes; an element that changes with the batch is folded
/// to 0 ("copy the input's dimension", which is the batch) in a Reshape target at the batch's own position, to -1
/// elsewhere in a Reshape target (once), and to 1 in an Expand shape (broadcast keeps the input's batch). A shape value
/// used any other way stays computed (the engine then names the op it cannot run).</item>
/// </list>
/// </remarks>
internal static partial class OnnxGraph
{
    /// <summary>Applies the import passes to <paramref name="model"/> in place (see the remarks of this class).</summary>
    /// <param name="model">The model; its graph's first real input is the image.</param>
    /// <param name="imageSize">Height and width of the image input when the graph leaves them symbolic (null: the graph's own).</param>
    public static void Import(this ModelProto model, (int Height, int Width)? imageSize = null)
    {
        var graph = model.Graph;
        ConstantsToInitializers(graph);
        ResolveIdentityTies(graph);
        FoldShapes(model, imageSize);
    }

    /// <summary>Constant nodes (a tensor, or one float/int/floats/ints value) become initializers of the same name.</summary>
    public static void ConstantsToInitializers(GraphProto graph)
    {
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        var kept = new List<NodeProto>();
        foreach (var n in graph.Node)
        {
            if (n.OpType == "Constant" && IsDefaultDomain(n.Domain) && n.Output.Count == 1 && !outputs.Contains(n.Output[0])
                && ConstantValue(n) is { } t)
            {
                t.Name = n.Output[0];
                graph.Initializer.Add(t);
            }
            else
                kept.Add(n);
        }
        if (kept.Count == graph.Node.Count) return;
        graph.Node.Clear();
        graph.Node.AddRange(kept);
    }

    private static TensorProto? ConstantValue(NodeProto n)
    {
        if (n.Attribute("value") is { T: { } t }) return t.Clone();
        if (n.Attribute("value_float") is { } f) return OnnxTensors.FromFloats("", [], [f.F]);
        if (n.Attribute("value_floats") is { } fs) return OnnxTensors.FromFloats("", [fs.Floats.Count], fs.Floats.ToArray());
        if (n.Attribute("value_int") is { } i) return OnnxTensors.FromInt64s("", [], [i.I]);
        if (n.Attribute("value_ints") is { } ints) return OnnxTensors.FromInt64s("", [ints.Ints.Count], ints.Ints.ToArray());
        return null;
    }

    /// <summary>An Identity node reading an initializer is replaced by an initializer of its output's name holding the same
    /// value: each reader of a tied tensor gets its own, as the separate parameters it was before the exporter tied it.</summary>
    public static void ResolveIdentityTies(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        var kept = new List<NodeProto>();
        foreach (var n in graph.Node)
        {
            if (n.OpType == "Identity" && n.Input.Count == 1 && n.Output.Count == 1 && !outputs.Contains(n.Output[0])
                && initializers.TryGetValue(n.Input[0], out var source) && !initializers.ContainsKey(n.Output[0]))
            {
                var copy = source.Clone();
                copy.Name = n.Output[0];
                graph.Initializer.Add(copy);
                initializers[copy.Name] = copy;
            }
            else
                kept.Add(n);
        }
        if (kept.Count == graph.Node.Count) return;
        graph.Node.Clear();
        graph.Node.AddRange(kept);
    }

    /// <summary>
    /// Gives <paramref name="node"/>'s initializer input <paramref name="index"/> its own copy when any other node (or
    /// another input of the same node) reads that initializer too, so training it leaves the other readers' value as it
    /// was. Returns the name the node reads afterwards.
    /// </summary>
    public static string Untie(this GraphProto graph, NodeProto node, int index)
    {
        string name = node.Input[index];
        if (graph.FindInitializer(name) is not { } source) return name;
        int readers = graph.Node.Sum(n => n.Input.Count(i => i == name)) + graph.Output.Count(o => o.Name == name);
        if (readers <= 1) return name;
        var used = graph.TensorNames();
        string fresh = $"{name}@{node.Name}";
        for (int k = 2; used.Contains(fresh); k++) fresh = $"{name}@{node.Name}#{k}";
        var copy = source.Clone();
        copy.Name = fresh;
        graph.Initializer.Add(copy);
        node.Input[index] = fresh;
        return fresh;
    }

    private static readonly HashSet<string> ShapeOps =
        ["Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Add", "Sub", "Mul", "Div", "ConstantOfShape", "Identity"];

    /// <summary>A value of a shape computation: dims and numbers (exact in a double for any shape), float or integer.</summary>
    private sealed record ShapeValue(long[] Dims, double[] Data, bool IsFloat);

    /// <summary>Folds shape subgraphs into initializers (see the class remarks).</summary>
    public static void FoldShapes(ModelProto model, (int Height, int Width)? imageSize)
    {
        var graph = model.Graph;
        if (!graph.Node.Any(n => n.OpType == "Shape")) return;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        // The nodes a shape computation reaches, in order: Shape nodes, and the ops above whose every input is known.
        var computed = new HashSet<string>();
        var foldable = new List<NodeProto>();
        foreach (var n in graph.Node)
        {
            if (!IsDefaultDomain(n.Domain) || !ShapeOps.Contains(n.OpType)) continue;
            bool fromShape = n.OpType == "Shape" || n.Input.Any(computed.Contains);
            bool allKnown = n.OpType == "Shape" || n.Input.All(i => i.Length == 0 || computed.Contains(i) || (initializers.TryGetValue(i, out var t) && ElementCount(t) <= 64));
            if (!fromShape || !allKnown) continue;
            foldable.Add(n);
            foreach (var o in n.Output) computed.Add(o);
        }
        if (foldable.Count == 0) return;
        var probed = foldable.Where(n => n.OpType == "Shape" && !initializers.ContainsKey(n.Input[0])).Select(n => n.Input[0]).Distinct().ToList();
        var shapes = ProbeShapes(model, probed, imageSize);
        if (shapes is null) return;
        foreach (var t in initializers.Values) shapes[t.Name] = [.. t.Dims];

        int opset = model.Opset();
        var atSmall = Evaluate(foldable, initializers, shapes, 3, opset);
        var atLarge = Evaluate(foldable, initializers, shapes, 5, opset);

        // Sinks: evaluated tensors that a node outside the folded set reads.
        var folded = foldable.ToHashSet();
        var replaced = new Dictionary<string, TensorProto>();
        foreach (var n in graph.Node.Where(n => !folded.Contains(n)))
        {
            for (int i = 0; i < n.Input.Count; i++)
            {
                string t = n.Input[i];
                if (!computed.Contains(t) || replaced.ContainsKey(t)) continue;
                if (!atSmall.TryGetValue(t, out var a) || !atLarge.TryGetValue(t, out var b)) continue;
                var readers = graph.Node.Where(r => !folded.Contains(r)).SelectMany(r => r.Input.Select((x, k) => (r, k, x))).Where(p => p.x == t).ToList();
                var value = Fold(a, b, readers.Select(p => (p.r.OpType, p.k)).ToList());
                if (value is not null) { value.Name = t; replaced[t] = value; }
            }
        }
        if (replaced.Count == 0) return;
        foreach (var t in replaced.Values) graph.Initializer.Add(t);
        // A folded output that an initializer now holds is no longer a node's output.
        foreach (var n in graph.Node.Where(n => folded.Contains(n) && n.Output.All(replaced.ContainsKey)).ToList())
            graph.Node.Remove(n);
        // Drop the folded nodes nothing reads any more, then the initializers only they read.
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet();
        for (bool changed = true; changed;)
        {
            changed = false;
            var read = graph.Node.SelectMany(n => n.Input).ToHashSet();
            var dead = graph.Node.Where(n => folded.Contains(n) && n.Output.All(o => o.Length == 0 || (!read.Contains(o) && !graphOutputs.Contains(o)))).ToList();
            foreach (var n in dead) { graph.Node.Remove(n); changed = true; }
        }
        var stillRead = graph.Node.SelectMany(n => n.Input).Concat(graphOutputs).ToHashSet();
        var live = graph.Initializer.Where(t => stillRead.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(live);
        graph.ValueInfo.Clear();
    }

    /// <summary>The folded initializer for a shape value read by <paramref name="readers"/> (op type, input index), or null
    /// when it depends on the batch in a way no reader can express.</summary>
    private static TensorProto? Fold(ShapeValue a, ShapeValue b, List<(string Op, int Index)> readers)
    {
        bool same = a.Data.AsSpan().SequenceEqual(b.Data) && a.Dims.AsSpan().SequenceEqual(b.Dims);
        if (same) return a.IsFloat ? OnnxTensors.FromFloats("", a.Dims, a.Data.Select(d => (float)d).ToArray())
            : OnnxTensors.FromInt64s("", a.Dims, a.Data.Select(d => (long)d).ToArray());
        if (a.IsFloat || a.Dims.Length != 1 || !a.Dims.AsSpan().SequenceEqual(b.Dims)) return null;
        long[] result = new long[a.Data.Length];
        if (readers.All(r => r is ("Reshape", 1)))
        {
            bool minusOne = a.Data.Any(d => d == -1);
            for (int i = 0; i < result.Length; i++)
            {
                if (a.Data[i] == b.Data[i]) result[i] = (long)a.Data[i];
                else if (i == 0 && a.Data[i] == 3 && b.Data[i] == 5) result[i] = 0;
                else if (!minusOne) { result[i] = -1; minusOne = true; }
                else return null;
            }
            return OnnxTensors.FromInt64s("", a.Dims, result);
        }
        if (readers.All(r => r is ("Expand", 1)))
        {
            for (int i = 0; i < result.Length; i++)
                result[i] = a.Data[i] == b.Data[i] ? (long)a.Data[i] : a.Data[i] == 3 && b.Data[i] == 5 ? 1 : -2;
            return result.Contains(-2) ? null : OnnxTensors.FromInt64s("", a.Dims, result);
        }
        return null;
    }

    /// <summary>The shapes of <paramref name="tensors"/> at batch 1, from one ONNX Runtime run on a blank input; null when
    /// the model cannot be run that way (its input size unknown, or ONNX Runtime refuses it): nothing is folded then.</summary>
    internal static Dictionary<string, long[]>? ProbeShapes(ModelProto model, List<string> tensors, (int Height, int Width)? imageSize)
    {
        var result = new Dictionary<string, long[]>();
        if (tensors.Count == 0) return result;
        var inputs = model.Graph.RealInputs().ToList();
        if (inputs.Count != 1) return null;
        long[] dims = inputs[0].Dims();
        if (dims.Length == 0) return null;
        dims[0] = 1;
        if (dims.Length == 4 && imageSize is { } size)
        {
            if (dims[2] <= 0) dims[2] = size.Height;
            if (dims[3] <= 0) dims[3] = size.Width;
        }
        if (dims.Any(d => d <= 0)) return null;
        if (tensors.Remove(inputs[0].Name)) result[inputs[0].Name] = dims;
        if (tensors.Count == 0) return result;
        var probe = Subgraph(model, tensors);
        if (probe.IrVersion < 4) probe.IrVersion = 4;
        var realInputs = probe.Graph.RealInputs().ToList();
        probe.Graph.Input.Clear();
        probe.Graph.Input.AddRange(realInputs);
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            using var session = new InferenceSession(probe.ToByteArray(), options);
            if (session.InputMetadata[inputs[0].Name].ElementType != typeof(float)) return null;
            using var input = OrtValue.CreateTensorValueFromMemory(new float[dims.Aggregate(1L, (a, d) => a * d)], dims);
            using var outputs = session.Run(new RunOptions(), [inputs[0].Name], [input], tensors);
            for (int i = 0; i < tensors.Count; i++) result[tensors[i]] = outputs[i].GetTensorTypeAndShape().Shape;
            return result;
        }
        catch (OnnxRuntimeException)
        {
            return null;
        }
    }

    /// <summary>Evaluates the shape nodes with every probed tensor's first dimension (the batch) set to <paramref name="batch"/>;
    /// a node it cannot evaluate leaves its outputs out.</summary>
    private static Dictionary<string, ShapeValue> Evaluate(List<NodeProto> nodes, Dictionary<string, TensorProto> initializers,
        Dictionary<string, long[]> shapes, int batch, int opset)
    {
        var values = new Dictionary<string, ShapeValue>();
        ShapeValue? Get(string name)
        {
            if (name.Length == 0) return null;
            if (values.TryGetValue(name, out var v)) return v;
            if (!initializers.TryGetValue(name, out var t)) return null;
            return t.DataType switch
            {
                (int)DataType.Int64 => new ShapeValue([.. t.Dims], [.. OnnxTensors.ToInt64s(t).Select(x => (double)x)], false),
                (int)DataType.Float => new ShapeValue([.. t.Dims], [.. OnnxTensors.ToFloats(t).Select(x => (double)x)], true),
                _ => null,
            };
        }
        foreach (var n in nodes)
        {
            try
            {
                if (EvaluateNode(n, Get, shapes, initializers, batch, opset) is { } v) values[n.Output[0]] = v;
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or OverflowException or TailorException)
            {
                // Not a shape computation this pass understands: it stays in the graph.
            }
        }
        return values;
    }

    private static ShapeValue? EvaluateNode(NodeProto n, Func<string, ShapeValue?> get, Dictionary<string, long[]> shapes,
        Dictionary<string, TensorProto> initializers, int batch, int opset)
    {
        if (n.OpType == "Shape")
        {
            if (!shapes.TryGetValue(n.Input[0], out var s)) return null;
            var dims = (long[])s.Clone();
            if (!initializers.ContainsKey(n.Input[0]) && dims.Length > 0) dims[0] = batch;
            long start = n.IntAttribute("start", 0), end = n.IntAttribute("end", dims.Length);
            if (start < 0) start += dims.Length;
            if (end < 0) end += dims.Length;
            start = Math.Clamp(start, 0, dims.Length);
            end = Math.Clamp(end, start, dims.Length);
            var data = dims[(int)start..(int)end].Select(d => (double)d).ToArray();
            return new ShapeValue([data.Length], data, false);
        }
        var inputs = n.Input.Select(get).ToList();
        if (n.Input.Where((x, i) => x.Length > 0 && inputs[i] is null).Any()) return null;
        var x = inputs[0]!;
        long[] Ints(int index, string attribute) =>
            index < inputs.Count && inputs[index] is { } v ? [.. v.Data.Select(d => (long)d)] : [.. n.Attribute(attribute)?.Ints ?? []];
        switch (n.OpType)
        {
            case "Identity":
                return x;
            case "Cast":
            {
                long to = n.IntAttribute("to", 1);
                bool isFloat = to is 1 or 10 or 11 or 16;
                return new ShapeValue(x.Dims, isFloat ? x.Data : [.. x.Data.Select(Math.Truncate)], isFloat);
            }
            case "Unsqueeze":
            {
                var axes = Ints(1, "axes");
                var dims = x.Dims.ToList();
                int rank = dims.Count + axes.Length;
                foreach (long a in axes.Select(a => a < 0 ? a + rank : a).Order()) dims.Insert((int)a, 1);
                return x with { Dims = [.. dims] };
            }
            case "Squeeze":
            {
                var axes = Ints(1, "axes").Select(a => a < 0 ? a + x.Dims.Length : a).ToHashSet();
                return x with { Dims = [.. x.Dims.Where((d, i) => axes.Count == 0 ? d != 1 : !axes.Contains(i))] };
            }
            case "Gather":
            {
                if (x.Dims.Length != 1 || n.IntAttribute("axis", 0) != 0) return null;
                var idx = inputs[1]!;
                var data = idx.Data.Select(d => x.Data[(int)(d < 0 ? d + x.Data.Length : d)]).ToArray();
                return new ShapeValue(idx.Dims, data, x.IsFloat);
            }
            case "Concat":
            {
                if (inputs.Any(v => v!.Dims.Length != 1)) return null;
                var data = inputs.SelectMany(v => v!.Data).ToArray();
                return new ShapeValue([data.Length], data, inputs.Any(v => v!.IsFloat));
            }
            case "Slice":
            {
                if (x.Dims.Length != 1) return null;
                long[] starts = opset >= 10 ? Ints(1, "") : [.. n.Attribute("starts")!.Ints], ends = opset >= 10 ? Ints(2, "") : [.. n.Attribute("ends")!.Ints];
                long[] steps = opset >= 10 && inputs.Count > 4 && inputs[4] is not null ? Ints(4, "") : [1];
                if (starts.Length != 1 || steps[0] == 0) return null;
                long len = x.Data.Length, step = steps[0];
                long s = starts[0] < 0 ? starts[0] + len : starts[0], e = ends[0] < 0 ? ends[0] + len : ends[0];
                var data = new List<double>();
                if (step > 0) for (long i = Math.Clamp(s, 0, len); i < Math.Clamp(e, 0, len); i += step) data.Add(x.Data[i]);
                else for (long i = Math.Clamp(s, -1, len - 1); i > Math.Clamp(e, -1, len - 1); i += step) data.Add(x.Data[i]);
                return new ShapeValue([data.Count], [.. data], x.IsFloat);
            }
            case "Add" or "Sub" or "Mul" or "Div":
            {
                var y = inputs[1]!;
                if (x.Data.Length != y.Data.Length && x.Data.Length != 1 && y.Data.Length != 1) return null;
                int count = Math.Max(x.Data.Length, y.Data.Length);
                bool isFloat = x.IsFloat || y.IsFloat;
                var data = new double[count];
                for (int i = 0; i < count; i++)
                {
                    double p = x.Data[x.Data.Length == 1 ? 0 : i], q = y.Data[y.Data.Length == 1 ? 0 : i];
                    data[i] = n.OpType switch
                    {
                        "Add" => p + q,
                        "Sub" => p - q,
                        "Mul" => p * q,
                        _ => isFloat ? p / q : q == 0 ? throw new InvalidOperationException() : Math.Truncate(p / q),
                    };
                }
                return new ShapeValue(x.Data.Length >= y.Data.Length ? x.Dims : y.Dims, data, isFloat);
            }
            case "ConstantOfShape":
            {
                long[] dims = [.. x.Data.Select(d => (long)d)];
                long count = dims.Aggregate(1L, (a, d) => a * d);
                if (count > 1 << 20) return null;
                var value = n.Attribute("value")?.T;
                bool isFloat = value is null || value.DataType == (int)DataType.Float;
                double fill = value is null ? 0 : isFloat ? OnnxTensors.ToFloats(value, n.Name)[0] : value.DataType == (int)DataType.Int64 ? OnnxTensors.ToInt64s(value, n.Name)[0] : throw new InvalidOperationException();
                return new ShapeValue(dims, Enumerable.Repeat(fill, (int)count).ToArray(), isFloat);
            }
            default:
                return null;
        }
    }

    private static long ElementCount(TensorProto t) => OnnxTensors.ElementCount(t);
}
