using Microsoft.ML.OnnxRuntime;

namespace Tailor.Onnx;

/// <summary>
/// The ONNX Runtime execution providers the frozen part of a model (feature extraction, and prediction with the whole
/// model) can run on, by short name: <c>cpu</c> (the default), <c>cuda</c>, <c>tensorrt</c>, <c>directml</c>,
/// <c>coreml</c>, <c>openvino</c>, <c>qnn</c>, <c>xnnpack</c> — or ONNX Runtime's own name (<c>CUDAExecutionProvider</c>).
/// <c>cuda</c>, <c>tensorrt</c> and <c>directml</c> take a device index after a colon (<c>cuda:1</c>; default 0).
/// Which providers exist depends on the ONNX Runtime package the application references (Microsoft.ML.OnnxRuntime:
/// CPU, CoreML on macOS/iOS, XNNPACK on Android/iOS; Microsoft.ML.OnnxRuntime.Gpu: CUDA and TensorRT;
/// Microsoft.ML.OnnxRuntime.DirectML; Microsoft.ML.OnnxRuntime.QNN; Intel.ML.OnnxRuntime.OpenVino). ONNX Runtime runs
/// the nodes a provider cannot take on the CPU. The trainable suffix always runs on Tailor's managed engine.
/// </summary>
public static class ExecutionProviders
{
    /// <summary>The default: ONNX Runtime's CPU provider, in every ONNX Runtime package.</summary>
    public const string Cpu = "cpu";

    private sealed record Provider(string Name, string OrtName, string Packages, bool TakesDevice, Action<SessionOptions, int> Append);

    private static readonly Provider[] Known =
    [
        new(Cpu, "CPUExecutionProvider", "every ONNX Runtime package", false, (_, _) => { }),
        new("cuda", "CUDAExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime.Gpu (Windows, Linux; with CUDA and cuDNN installed)", true,
            (o, d) => o.AppendExecutionProvider_CUDA(d)),
        new("tensorrt", "TensorrtExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime.Gpu (Windows, Linux; with TensorRT installed)", true,
            (o, d) => o.AppendExecutionProvider_Tensorrt(d)),
        new("directml", "DmlExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime.DirectML (Windows)", true,
            (o, d) => o.AppendExecutionProvider_DML(d)),
        new("coreml", "CoreMLExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime on macOS and iOS", false,
            (o, _) => o.AppendExecutionProvider_CoreML()),
        new("openvino", "OpenVINOExecutionProvider", "the NuGet package Intel.ML.OnnxRuntime.OpenVino (64-bit Windows)", false,
            (o, _) => o.AppendExecutionProvider_OpenVINO()),
        new("qnn", "QNNExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime.QNN (64-bit Windows)", false,
            (o, _) => o.AppendExecutionProvider("QNN", new Dictionary<string, string>())),
        new("xnnpack", "XnnpackExecutionProvider", "the NuGet package Microsoft.ML.OnnxRuntime on Android and iOS", false,
            (o, _) => o.AppendExecutionProvider("XNNPACK", new Dictionary<string, string>())),
    ];

    /// <summary>The short names this class knows, in the order above.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Known.Select(p => p.Name)];

    /// <summary>The providers the installed ONNX Runtime has, by short name where this class knows it (ONNX Runtime's
    /// name otherwise); always includes <see cref="Cpu"/>.</summary>
    public static IReadOnlyList<string> Available =>
        [.. InstalledOrtNames().Select(n => Known.FirstOrDefault(p => p.OrtName == n)?.Name ?? n)];

    /// <summary>
    /// Session options with the provider <paramref name="name"/> appended (nothing appended for <see cref="Cpu"/>).
    /// </summary>
    /// <exception cref="TailorException">The name is not a provider (the message lists the names), the installed ONNX
    /// Runtime lacks it (the message lists what it has, and which package brings it), or ONNX Runtime cannot start it
    /// (drivers or libraries missing).</exception>
    internal static void AppendTo(SessionOptions options, string? name)
    {
        var (provider, device) = Resolve(name);
        if (provider.Name == Cpu) return;
        try
        {
            provider.Append(options, device);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException)
        {
            throw new TailorException($"ONNX Runtime cannot start the execution provider '{name}' ({provider.OrtName}): {e.Message}", e);
        }
    }

    /// <summary>Checks <paramref name="name"/> against the known names and the installed ONNX Runtime, as
    /// <see cref="AppendTo"/> does, without creating a session.</summary>
    /// <exception cref="TailorException">As <see cref="AppendTo"/>, but for a provider that fails to start.</exception>
    public static void Check(string? name) => Resolve(name);

    /// <summary>Checks only that <paramref name="name"/> is a provider this class knows, with a valid device index.</summary>
    /// <exception cref="TailorException">It is not.</exception>
    internal static void CheckName(string? name) => Parse(name);

    private static (Provider Provider, int Device) Resolve(string? name)
    {
        var (provider, device) = Parse(name);
        var installed = InstalledOrtNames();
        if (!installed.Contains(provider.OrtName))
            throw new TailorException($"The execution provider '{provider.Name}' ({provider.OrtName}) is not in the installed ONNX Runtime, " +
                $"which has {Describe(installed)}. {provider.Name} comes with {provider.Packages}.");
        return (provider, device);
    }

    private static (Provider Provider, int Device) Parse(string? name)
    {
        string text = string.IsNullOrWhiteSpace(name) ? Cpu : name.Trim();
        int colon = text.IndexOf(':');
        string id = colon < 0 ? text : text[..colon];
        var provider = Known.FirstOrDefault(p => p.Name.Equals(id, StringComparison.OrdinalIgnoreCase) || p.OrtName.Equals(id, StringComparison.OrdinalIgnoreCase))
            ?? throw new TailorException($"'{text}' is not an execution provider; use one of {string.Join(", ", Names)} " +
                $"(this ONNX Runtime has {Describe(InstalledOrtNames())}).");
        int device = 0;
        if (colon >= 0)
        {
            if (!provider.TakesDevice)
                throw new TailorException($"The execution provider '{provider.Name}' takes no device index ('{text}'); " +
                    $"{string.Join(", ", Known.Where(p => p.TakesDevice).Select(p => p.Name))} do ({provider.Name}:0).");
            if (!int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out device))
                throw new TailorException($"'{text}': the device index after '{provider.Name}:' must be a whole number ≥ 0.");
        }
        return (provider, device);
    }

    private static IReadOnlyList<string> InstalledOrtNames() => s_installed ??= OrtEnv.Instance().GetAvailableProviders();

    private static IReadOnlyList<string>? s_installed;

    private static string Describe(IReadOnlyList<string> ortNames) =>
        string.Join(", ", ortNames.Select(n => Known.FirstOrDefault(p => p.OrtName == n) is { } p ? $"{p.Name} ({n})" : n));
}
