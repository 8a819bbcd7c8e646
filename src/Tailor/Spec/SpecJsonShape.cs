using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tailor.Spec;

/// <summary>
/// Checks the JSON of an update spec against the shape of <see cref="UpdateSpec"/> before it is deserialized: every
/// field the records declare has the JSON type its property needs, null only where the property is nullable,
/// integers that fit, enums among their names, required fields present. The shape is read from the records
/// themselves (JSON names, property types, nullability, <c>required</c>), so a new field is checked without being
/// listed here. Unknown keys are ignored, as the deserializer ignores them. The errors name the field by its JSON path
/// (<c>hyperparameters.learning_rate.allowed</c>); a bare deserializer would accept a null (and fail later with a
/// NullReferenceException) or report .NET type names.
/// </summary>
internal static class SpecJsonShape
{
    /// <summary>Throws unless <paramref name="root"/> has the shape of <see cref="UpdateSpec"/>.</summary>
    /// <exception cref="TailorException">The first field with the wrong shape, by its JSON path; <paramref name="where"/>
    /// ("'model.onnx': ") prefixes the message.</exception>
    public static void Check(JsonElement root, string where)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new TailorException($"{where}the update spec ({UpdateSpec.MetadataKey}) is {Describe(root)}; it must be a JSON object.");
        CheckObject(root, typeof(UpdateSpec), "", where);
    }

    private static readonly NullabilityInfoContext Nullability = new();

    private static void CheckObject(JsonElement e, Type type, string path, string where)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is { Condition: JsonIgnoreCondition.Always }) continue;
            string name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? property.Name;
            string field = path.Length == 0 ? name : path + "." + name;
            if (!e.TryGetProperty(name, out var value))
            {
                if (property.GetCustomAttribute<System.Runtime.CompilerServices.RequiredMemberAttribute>() is not null)
                    throw new TailorException($"{where}the update spec has no '{field}'; it is required.");
                continue;
            }
            CheckValue(value, property.PropertyType, Nullability.Create(property), field, where);
        }
    }

    private static void CheckValue(JsonElement e, Type type, NullabilityInfo nullability, string field, string where)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            if (nullability.ReadState == NullabilityState.Nullable || Nullable.GetUnderlyingType(type) is not null) return;
            throw Wrong(e, field, Expected(type, nullability), where);
        }
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            if (e.ValueKind != JsonValueKind.String) throw Wrong(e, field, "a string", where);
        }
        else if (type == typeof(int))
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out _))
                throw Wrong(e, field, UpdateSpec.IntegerRange(field) is var (min, max) ? $"a whole number from {min} to {max}" : "a whole number", where);
        }
        else if (type == typeof(double) || type == typeof(float))
        {
            // A number beyond the double range (1e400) reads as infinity.
            bool finite = e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d) && double.IsFinite(d)
                && (type == typeof(double) || float.IsFinite((float)d));
            if (!finite) throw Wrong(e, field, "a finite number", where);
        }
        else if (type.IsEnum)
        {
            var names = EnumNames(type);
            if (e.ValueKind != JsonValueKind.String || !names.Contains(e.GetString()!, StringComparer.OrdinalIgnoreCase))
                throw Wrong(e, field, "one of " + string.Join(", ", names), where);
        }
        else if (DictionaryValueType(type) is { } valueType)
        {
            if (e.ValueKind != JsonValueKind.Object) throw Wrong(e, field, "a JSON object", where);
            foreach (var member in e.EnumerateObject())
                CheckValue(member.Value, valueType, nullability.GenericTypeArguments[^1], field + "." + UpdateSpec.PathSegment(member.Name), where);
        }
        else if (ListElementType(type) is { } elementType)
        {
            if (e.ValueKind != JsonValueKind.Array) throw Wrong(e, field, "a JSON array", where);
            int i = 0;
            foreach (var item in e.EnumerateArray())
                CheckValue(item, elementType, nullability.GenericTypeArguments[0], $"{field}[{i++}]", where);
        }
        else
        {
            if (e.ValueKind != JsonValueKind.Object) throw Wrong(e, field, "a JSON object", where);
            CheckObject(e, type, field, where);
        }
    }

    private static Type? DictionaryValueType(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) ? t.GetGenericArguments()[1] : null;

    private static Type? ListElementType(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? t.GetGenericArguments()[0] : null;

    private static string[] EnumNames(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name).ToArray();

    private static string Expected(Type type, NullabilityInfo nullability)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? "a string"
            : type == typeof(int) ? "a whole number"
            : type == typeof(double) || type == typeof(float) ? "a finite number"
            : type.IsEnum ? "one of " + string.Join(", ", EnumNames(type))
            : ListElementType(type) is not null ? "a JSON array"
            : "a JSON object";
    }

    private static TailorException Wrong(JsonElement e, string field, string expected, string where) =>
        new($"{where}the update spec's '{field}' is {Describe(e)}; it must be {expected}.");

    /// <summary>The value for a message: its JSON type, and the value itself when short (a huge string is cut).</summary>
    internal static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        JsonValueKind.Number => e.GetRawText().Length <= 40 ? e.GetRawText() : "a number of " + e.GetRawText().Length + " digits",
        JsonValueKind.String => "the string " + UpdateSpec.Quote(e.GetString()!),
        JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
