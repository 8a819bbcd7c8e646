using Microsoft.ML.OnnxRuntime;

namespace Tailor.Onnx;

/// <summary>The ONNX Runtime session settings Tailor runs every model with (and that benchmarks compare against).</summary>
public static class OnnxSessions
{
    /// <summary>Errors only in the log, every graph optimization, all cores for one run, and the execution provider
    /// <paramref name="executionProvider"/> (see <see cref="ExecutionProviders"/>; null: CPU). The caller disposes it.</summary>
    /// <exception cref="TailorException">The installed ONNX Runtime lacks the provider, or cannot start it.</exception>
    public static SessionOptions CreateOptions(string? executionProvider = null)
    {
        var options = new SessionOptions
        {
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = Environment.ProcessorCount,
        };
        try
        {
            ExecutionProviders.AppendTo(options, executionProvider);
        }
        catch
        {
            options.Dispose();
            throw;
        }
        return options;
    }

    /// <summary>
    /// A session for a serialized model. ONNX Runtime's copy of the weights (and their prepacked forms) is native
    /// memory the garbage collector cannot see, so the session reports it with <see cref="GC.AddMemoryPressure"/>:
    /// otherwise the large arrays that training and serialization leave behind (the bytes given here among them) wait
    /// for a full collection that nothing triggers while ONNX Runtime allocates. Release with <see cref="Release"/>.
    /// </summary>
    internal static InferenceSession Create(byte[] model, string? executionProvider, out long nativeBytes)
    {
        using var options = CreateOptions(executionProvider);
        var session = new InferenceSession(model, options);
        Interlocked.Increment(ref s_open);
        // Weights, prepacked weights: about twice the model's bytes, measured on ResNet18 (61 MB file).
        nativeBytes = 2L * model.Length;
        GC.AddMemoryPressure(nativeBytes);
        return session;
    }

    private static int s_open;

    /// <summary>Sessions made by <see cref="Create"/> (predictors, feature extractors) not released yet, in this process:
    /// tests check that repeated training runs leave none behind.</summary>
    internal static int OpenSessions => Volatile.Read(ref s_open);

    /// <summary>Disposes a session from <see cref="Create"/> and withdraws its memory pressure.</summary>
    internal static void Release(InferenceSession session, long nativeBytes)
    {
        session.Dispose();
        Interlocked.Decrement(ref s_open);
        GC.RemoveMemoryPressure(nativeBytes);
        TrimNativeHeap();
    }

    /// <summary>
    /// Hands the native heap's free pages back to the system (glibc's malloc_trim). ONNX Runtime frees a session's
    /// weights and activation arena into glibc's per-thread heaps, which keep them: after feature extraction, about
    /// 180 MB stayed resident for the rest of a training task. Elsewhere (macOS, Windows, musl) this does nothing.
    /// </summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux() || s_noMallocTrim) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_noMallocTrim = true;   // not glibc
        }
    }

    private static bool s_noMallocTrim;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
