using Microsoft.ML.OnnxRuntime;

namespace Tailor.Onnx;

/// <summary>The ONNX Runtime session settings Tailor runs every model with (and that benchmarks compare against).</summary>
public static class OnnxSessions
{
    /// <summary>Errors only in the log, every graph optimization, all cores for one run. The caller disposes it.</summary>
    public static SessionOptions CreateOptions() => new()
    {
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        IntraOpNumThreads = Environment.ProcessorCount,
    };
}
