using Onnx;

namespace Tailor.Onnx;

/// <summary>Whole-model rewrites that make a model ready for ONNX Runtime.</summary>
internal static partial class OnnxGraph
{
    /// <summary>
    /// Makes the batch dimension symbolic ("N") on every graph input and output, drops stale
    /// intermediate shapes, and rewrites Reshape targets that hard-code a batch of 1 to 0 ("copy the
    /// input's first dimension"), so ONNX Runtime can run batches through a model saved with batch 1.
    /// </summary>
    public static void MakeBatchDynamic(this ModelProto model)
    {
        var graph = model.Graph;
        foreach (var v in graph.RealInputs().Concat(graph.Output))
        {
            var dims = v.Type?.TensorType?.Shape?.Dim;
            if (dims is { Count: > 0 })
                dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "N" };
        }
        graph.ValueInfo.Clear();
        foreach (var reshape in graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count == 2))
        {
            if (graph.FindInitializer(reshape.Input[1]) is not { } shape) continue;
            long[] s = OnnxTensors.ToInt64s(shape);
            if (s.Length > 0 && s[0] == 1)
            {
                s[0] = 0;
                graph.ReplaceInitializer(OnnxTensors.FromInt64s(shape.Name, shape.Dims, s));
            }
        }
    }

    /// <summary>IR ≥ 4 lets initializers stay out of the graph inputs (ONNX Runtime can then fold
    /// them as constants); older files list every initializer as an input, which we drop.</summary>
    public static void FinishGraph(this ModelProto model)
    {
        if (model.IrVersion < 4) model.IrVersion = 4;
        var realInputs = model.Graph.RealInputs().ToList();
        model.Graph.Input.Clear();
        model.Graph.Input.AddRange(realInputs);
        model.ProducerName = "Tailor";
    }
}
