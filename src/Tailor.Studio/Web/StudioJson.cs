using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tailor.Studio.Web;

/// <summary>The JSON of the HTTP API and its event stream: camelCase names, enums as camelCase strings
/// (<c>"neuralNetwork"</c>, <c>"train"</c>; read case-insensitively), numbers as numbers.</summary>
internal static class StudioJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>The event stream's: as <see cref="Options"/>, members that do not apply to an event's kind (null) left out.</summary>
    public static readonly JsonSerializerOptions Events = new(Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Applies the studio's settings to <paramref name="options"/> (the API's own options object).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        return options;
    }
}
