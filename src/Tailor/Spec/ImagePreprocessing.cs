using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>How an image file becomes the model's input tensor.</summary>
/// <remarks>
/// Tailor decodes the file, applies its EXIF orientation, converts it to 8-bit RGB (grayscale, alpha,
/// 16-bit and CMYK are all converted), resizes it as <see cref="Resize"/> says, and writes each pixel's
/// channel value (0..255) multiplied by <see cref="Scale"/> into the tensor in <see cref="Layout"/> and
/// <see cref="Channels"/> order. Everything after that — mean subtraction, division by a standard
/// deviation — is part of the ONNX graph itself (the first nodes after the input), so plain ONNX Runtime
/// fed the same tensor gives the same answer. <see cref="Normalization"/> describes those nodes for
/// people; it is not applied a second time.
/// </remarks>
public sealed record ImagePreprocessing
{
    /// <summary>The largest width or height a model's input may have: 4096 pixels (one 4096×4096 RGB image is 192 MiB
    /// of floats; image classifiers take 224 to 600). A spec outside 1 to this is refused when the model loads.</summary>
    public const int MaxSide = 4096;

    /// <summary>Input width in pixels. Default 224.</summary>
    [JsonPropertyName("width")] public int Width { get; init; } = 224;

    /// <summary>Input height in pixels. Default 224.</summary>
    [JsonPropertyName("height")] public int Height { get; init; } = 224;

    /// <summary>Channel order in the tensor. Default RGB.</summary>
    [JsonPropertyName("channels")] public ChannelOrder Channels { get; init; } = ChannelOrder.Rgb;

    /// <summary>Tensor layout. Default NCHW.</summary>
    [JsonPropertyName("layout")] public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

    /// <summary>How the image is brought to <see cref="Width"/>×<see cref="Height"/>. Default: stretch.</summary>
    [JsonPropertyName("resize")] public ResizeMode Resize { get; init; } = ResizeMode.Stretch;

    /// <summary>Resampling filter. Default: bilinear (triangle).</summary>
    [JsonPropertyName("resampler")] public Resampler Resampler { get; init; } = Resampler.Bilinear;

    /// <summary>Each 0..255 channel value is multiplied by this before it enters the graph. Default 1
    /// (the graph receives 0..255).</summary>
    [JsonPropertyName("scale")] public float Scale { get; init; } = 1f;

    /// <summary>A human-readable description of the normalization the graph applies after its input
    /// (e.g. "BGR mean image from ResNetPreprocess.onnx").</summary>
    [JsonPropertyName("normalization")] public string Normalization { get; init; } = "none";
}

[JsonConverter(typeof(JsonStringEnumConverter<ChannelOrder>))]
public enum ChannelOrder { Rgb, Bgr, Gray }

[JsonConverter(typeof(JsonStringEnumConverter<TensorLayout>))]
public enum TensorLayout { Nchw, Nhwc }

/// <summary>How an image is brought to the model's input size.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ResizeMode>))]
public enum ResizeMode
{
    /// <summary>Scale both sides to the target size, ignoring the aspect ratio (what Core ML's Vision does
    /// with scaleFill, and what the ResNet18 featurizer was used with).</summary>
    Stretch,
    /// <summary>Scale the shorter side to the target, then cut the centre.</summary>
    CenterCrop,
    /// <summary>Scale the longer side to the target and pad the rest with black.</summary>
    Pad,
}

[JsonConverter(typeof(JsonStringEnumConverter<Resampler>))]
public enum Resampler { Bilinear, Bicubic, NearestNeighbor }
