using System.CommandLine;
using Tailor.Onnx;

namespace Tailor.Cli.Commands;

/// <summary><c>--device cpu|cuda|…</c>: the ONNX Runtime execution provider the frozen part runs on (train, evaluate,
/// predict). The trainable layers always train on Tailor's own engine.</summary>
internal static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = $"Where ONNX Runtime runs the frozen part of the model: {string.Join(", ", ExecutionProviders.Names)} " +
            "(cuda:N, tensorrt:N, directml:N pick a device). Only those the installed ONNX Runtime has work; this tailor is built " +
            "with Microsoft.ML.OnnxRuntime (CPU; CoreML on macOS). Trainable layers always train on Tailor's own engine.",
        DefaultValueFactory = _ => ExecutionProviders.Cpu,
    };

    /// <summary>The provider given, checked before any slow work; the library's message gets the flag in front.</summary>
    /// <exception cref="UsageException">Not a provider name (exit 2).</exception>
    /// <exception cref="TailorException">A provider the installed ONNX Runtime lacks (exit 1).</exception>
    public static string Get(ParseResult parse, Option<string> option)
    {
        string device = parse.GetValue(option)!;
        try
        {
            ExecutionProviders.CheckName(device);
        }
        catch (TailorException e)
        {
            throw new UsageException($"--device {device}: {e.Message}", e);   // not a provider at all: exit 2
        }
        try
        {
            ExecutionProviders.Check(device);   // a provider this ONNX Runtime lacks: exit 1
        }
        catch (TailorException e)
        {
            throw new TailorException($"--device {device}: {e.Message}", e);
        }
        return device;
    }
}
