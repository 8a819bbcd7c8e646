using Onnx;
using Tailor.Onnx;

namespace Tailor.Spec;

/// <summary>
/// Checks that an update spec describes the ONNX graph it is stored in: its input, outputs, feature tensor, loss
/// inputs, classifier and updatable layers exist; the classifier has one row per label slot; the preprocessing's
/// channels, layout and size agree with the input's shape. Run when a model loads (<see cref="UpdatableModel.Load"/>,
/// <see cref="Building.ModelBuilder.Expand"/>), so a model that loads is one every command can use.
/// </summary>
internal static class SpecGraphCheck
{
    /// <exception cref="TailorException">The first disagreement, naming <paramref name="source"/>, the spec's field and
    /// what the graph has.</exception>
    public static void Check(UpdateSpec spec, GraphProto graph, string source)
    {
        string where = source.Length > 0 ? $"'{source}': the" : "The";
        TailorException Bad(string field, string problem) => new($"{where} update spec's '{field}' {problem}.");
        static string List(IEnumerable<string> names)
        {
            var all = names.ToList();
            return all.Count == 0 ? "none" : string.Join(", ", all.Take(12).Select(UpdateSpec.Quote)) + (all.Count > 12 ? $" and {all.Count - 12} more" : "");
        }

        var inputs = graph.RealInputs().ToList();
        var input = inputs.FirstOrDefault(i => i.Name == spec.Input)
            ?? throw Bad("input", $"is {UpdateSpec.Quote(spec.Input)}, which is not an input of the graph; its inputs: {List(inputs.Select(i => i.Name))}");
        foreach (var (field, name) in new[] { ("probabilities", spec.ProbabilitiesOutput), ("label_output", spec.LabelOutput) })
            if (!graph.Output.Any(o => o.Name == name))
                throw Bad(field, $"is {UpdateSpec.Quote(name)}, which is not an output of the graph; its outputs: {List(graph.Output.Select(o => o.Name))}");

        var tensors = new HashSet<string>(graph.Node.SelectMany(n => n.Output));
        tensors.UnionWith(graph.Input.Select(i => i.Name));
        if (!tensors.Contains(spec.Features))
            throw Bad("features", $"is {UpdateSpec.Quote(spec.Features)}, which is no tensor of the graph; it names the tensor the classifier reads");
        for (int i = 0; i < spec.LossTerms.Count; i++)
            if (!tensors.Contains(spec.LossTerms[i].Input))
                throw Bad(i == 0 ? "loss.input" : $"additional_losses[{i - 1}].input",
                    $"is {UpdateSpec.Quote(spec.LossTerms[i].Input)}, which is no tensor of the graph");

        if (spec.Head != HeadKind.KNearestNeighbors)
        {
            // A k-NN replaced its classifier by the stored examples; the other heads train it.
            var classifier = graph.FindNode(spec.Classifier)
                ?? throw Bad("classifier", $"is {UpdateSpec.Quote(spec.Classifier)}, which is not a node of the graph; layers that can be a classifier: " +
                    List(Building.ModelBuilder.CandidateLayers(graph)));
            (TensorProto Weight, TensorProto? Bias, bool RowsAreClasses) parameters;
            try { parameters = Building.ModelBuilder.ClassifierParameters(graph, classifier); }
            catch (TailorException e) { throw new TailorException($"{where} update spec's 'classifier': {e.Message}", e); }
            var dims = parameters.Weight.Dims;
            long rows = dims.Count == 0 ? 0 : parameters.RowsAreClasses ? dims[0] : dims[^1];
            if (rows != spec.Labels.Names.Count)
                throw Bad("labels.names", $"has {spec.Labels.Names.Count} names, but the classifier {UpdateSpec.Quote(spec.Classifier)} has {rows} rows; " +
                    "there is one label slot per row");
        }

        for (int i = 0; i < spec.UpdatableLayers.Count; i++)
        {
            var layer = spec.UpdatableLayers[i];
            var node = graph.FindNode(layer.Name)
                ?? throw Bad($"updatable_layers[{i}].name", $"is {UpdateSpec.Quote(layer.Name)}, which is not a layer of the graph; layers that can be updatable: " +
                    List(Building.ModelBuilder.CandidateLayers(graph)));
            if (node.OpType != layer.Op)
                throw Bad($"updatable_layers[{i}].op", $"is {UpdateSpec.Quote(layer.Op)}, but the layer {UpdateSpec.Quote(layer.Name)} is a {node.OpType}");
            for (int j = 0; j < layer.Parameters.Count; j++)
                if (!node.Input.Contains(layer.Parameters[j]) || graph.FindInitializer(layer.Parameters[j]) is null)
                    throw Bad($"updatable_layers[{i}].parameters[{j}]", $"is {UpdateSpec.Quote(layer.Parameters[j])}, which is not a stored weight of the layer " +
                        $"{UpdateSpec.Quote(layer.Name)}; its weights: {List(node.Input.Where(n => graph.FindInitializer(n) is not null))}");
        }

        CheckInputShape(spec.Preprocessing, input, Bad);
    }

    private static void CheckInputShape(ImagePreprocessing p, ValueInfoProto input, Func<string, string, TailorException> bad)
    {
        long[] dims = input.Dims();
        if (dims.Length == 0) return;   // no shape recorded: nothing to compare
        string shape = input.ShapeText();
        if (dims.Length != 4)
            throw bad("input", $"is {UpdateSpec.Quote(input.Name)}, of shape {shape}; an image input has 4 dimensions (NCHW or NHWC)");
        int channels = p.Channels == ChannelOrder.Gray ? 1 : 3;
        bool nchw = p.Layout == TensorLayout.Nchw;
        long c = nchw ? dims[1] : dims[3], h = nchw ? dims[2] : dims[1], w = nchw ? dims[3] : dims[2];
        if (c > 0 && c != channels)
        {
            long other = nchw ? dims[3] : dims[1];
            throw other == channels
                ? bad("preprocessing.layout", $"is {p.Layout}, but the input {UpdateSpec.Quote(input.Name)} has shape {shape}: channels {(nchw ? "last (Nhwc)" : "first (Nchw)")}")
                : bad("preprocessing.channels", $"is {p.Channels} ({channels} channel{(channels == 1 ? "" : "s")}), but the input {UpdateSpec.Quote(input.Name)} " +
                    $"has {c} (shape {shape}, {p.Layout})");
        }
        if (w > 0 && w != p.Width)
            throw bad("preprocessing.width", $"is {p.Width}, but the input {UpdateSpec.Quote(input.Name)} is {w} wide (shape {shape}, {p.Layout})");
        if (h > 0 && h != p.Height)
            throw bad("preprocessing.height", $"is {p.Height}, but the input {UpdateSpec.Quote(input.Name)} is {h} high (shape {shape}, {p.Layout})");
    }
}
