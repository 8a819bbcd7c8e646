using System.Reflection;
using System.Text;

namespace Tailor.Tests.Api;

/// <summary>
/// The public API of an assembly as text, one line per public (or protected) type and member with its signature,
/// sorted ordinally: what <see cref="PublicApiTests"/> compares with the committed listing. Written by reflection, so it
/// needs no analyzer and reads the compiled assembly exactly as a caller sees it.
/// </summary>
internal static class PublicApi
{
    /// <summary>Every line of the listing: each type (sorted by full name) with its kind and bases, then its members,
    /// indented and sorted ordinally.</summary>
    public static List<string> Listing(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in VisibleTypes(assembly))
        {
            string owner = Name(type);
            lines.Add($"{owner}{Bases(type)} [{Kind(type)}]");
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            lines.AddRange(type.GetMembers(all).Select(Member).OfType<string>().Select(text => $"  {owner}.{text}").Order(StringComparer.Ordinal));
        }
        return lines;
    }

    /// <summary>Public types, public nested types of public types, and protected nested types of unsealed ones.</summary>
    public static IEnumerable<Type> VisibleTypes(Assembly assembly) =>
        assembly.GetTypes().Where(IsVisible).OrderBy(Name, StringComparer.Ordinal);

    private static bool IsVisible(Type t) =>
        t.IsPublic || (t.IsNested && (t.IsNestedPublic || ((t.IsNestedFamily || t.IsNestedFamORAssem) && !t.DeclaringType!.IsSealed))
                       && IsVisible(t.DeclaringType!));

    /// <summary>Whether a caller outside the assembly sees the member (public, or protected in an unsealed type).</summary>
    public static bool IsVisible(MemberInfo m) => m switch
    {
        MethodBase b => b.IsPublic || ((b.IsFamily || b.IsFamilyOrAssembly) && !b.DeclaringType!.IsSealed),
        FieldInfo f => f.IsPublic || ((f.IsFamily || f.IsFamilyOrAssembly) && !f.DeclaringType!.IsSealed),
        PropertyInfo p => p.GetAccessors(true).Any(IsVisible),
        EventInfo e => e.AddMethod is { } add && IsVisible(add),
        _ => false,
    };

    /// <summary>Every type a visible member's signature names (parameters, returns, fields, properties, events,
    /// base types and interfaces), with where it appears.</summary>
    public static IEnumerable<(string Where, Type Type)> SignatureTypes(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in VisibleTypes(assembly))
        {
            if (type.BaseType is { } b) yield return (Name(type), b);
            foreach (var i in type.GetInterfaces()) yield return (Name(type), i);
            foreach (var m in type.GetMembers(all).Where(m => IsVisible(m) && !(m is MethodInfo { IsSpecialName: true })))
            {
                string where = $"{Name(type)}.{m.Name}";
                switch (m)
                {
                    case MethodBase method:
                        if (method is MethodInfo mi) yield return (where, mi.ReturnType);
                        foreach (var p in method.GetParameters()) yield return (where, p.ParameterType);
                        break;
                    case FieldInfo f: yield return (where, f.FieldType); break;
                    case PropertyInfo p:
                        yield return (where, p.PropertyType);
                        foreach (var ip in p.GetIndexParameters()) yield return (where, ip.ParameterType);
                        break;
                    case EventInfo e: yield return (where, e.EventHandlerType!); break;
                }
            }
        }
    }

    /// <summary>A type and the types it is made of (generic arguments, array and pointer elements).</summary>
    public static IEnumerable<Type> Parts(Type t)
    {
        yield return t;
        if (t.HasElementType) foreach (var p in Parts(t.GetElementType()!)) yield return p;
        if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) foreach (var p in Parts(a)) yield return p;
    }

    private static string? Member(MemberInfo m)
    {
        if (!IsVisible(m) || m.Name.Contains('<')) return null;   // compiler-generated (a record's <Clone>$)
        switch (m)
        {
            case ConstructorInfo c: return $"{TypeName(c.DeclaringType!, short_: true)}({Parameters(c)}){(c.IsStatic ? " [static]" : "")}";
            case MethodInfo mi when !mi.IsSpecialName || mi.Name.StartsWith("op_", StringComparison.Ordinal):
                return $"{mi.Name}{Generics(mi)}({Parameters(mi)}) : {Name(mi.ReturnType)}{Modifiers(mi)}";
            case PropertyInfo p:
                string accessors = string.Join(" ", new[] { p.GetMethod, p.SetMethod }.Where(a => a is not null && IsVisible(a))
                    .Select(a => a == p.GetMethod ? "get;" : IsInit(a!) ? "init;" : "set;"));
                var index = p.GetIndexParameters();
                string name = index.Length > 0 ? $"this[{string.Join(", ", index.Select(i => $"{Name(i.ParameterType)} {i.Name}"))}]" : p.Name;
                return $"{name} : {Name(p.PropertyType)} {{ {accessors} }}{(p.GetAccessors(true).First().IsStatic ? " [static]" : "")}";
            case FieldInfo f:
                if (f.DeclaringType!.IsEnum) return f.IsStatic ? $"{f.Name} = {f.GetRawConstantValue()}" : null;
                return $"{f.Name} : {Name(f.FieldType)}" + (f.IsLiteral ? $" = {Literal(f.GetRawConstantValue())} [const]" :
                    f.IsStatic ? f.IsInitOnly ? " [static readonly]" : " [static]" : f.IsInitOnly ? " [readonly]" : "");
            case EventInfo e: return $"{e.Name} : {Name(e.EventHandlerType!)} [event]";
            default: return null;
        }
    }

    private static bool IsInit(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    private static string Modifiers(MethodInfo m)
    {
        string modifier = m.IsStatic ? "static" : m.IsAbstract ? "abstract"
            : m.IsVirtual && m.GetBaseDefinition() != m ? "override" : m.IsVirtual && !m.IsFinal ? "virtual" : "";
        return modifier.Length == 0 ? "" : $" [{modifier}]";
    }

    private static string Generics(MethodInfo m) => m.IsGenericMethodDefinition ? $"<{string.Join(", ", m.GetGenericArguments().Select(a => a.Name))}>" : "";

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        (p.ParameterType.IsByRef ? p.IsOut ? "out " : p.IsIn ? "in " : "ref " : "") +
        (p.GetCustomAttribute<ParamArrayAttribute>() is not null ? "params " : "") +
        $"{Name(p.ParameterType.IsByRef ? p.ParameterType.GetElementType()! : p.ParameterType)} {p.Name}" +
        (p.HasDefaultValue ? $" = {(p.DefaultValue is null && p.ParameterType.IsValueType && Nullable.GetUnderlyingType(p.ParameterType) is null ? "default" : Literal(p.DefaultValue))}" : "")));

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Kind(Type t) =>
        t.IsEnum ? "enum" : t.IsInterface ? "interface" : t.IsValueType ? (t.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is not null ? "record struct" : "struct")
        : typeof(Delegate).IsAssignableFrom(t) ? "delegate"
        : (t.IsAbstract && t.IsSealed ? "static class" : t.IsAbstract ? "abstract class" : t.IsSealed ? "sealed class" : "class")
          .Replace("class", t.GetMethod("<Clone>$") is not null ? "record" : "class");

    private static string Bases(Type t)
    {
        if (t.IsEnum) return $" : {Name(Enum.GetUnderlyingType(t))}";
        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(MulticastDelegate)) bases.Add(Name(b));
        bases.AddRange(t.GetInterfaces().Select(Name).Order(StringComparer.Ordinal));
        if (typeof(Delegate).IsAssignableFrom(t) && t.GetMethod("Invoke") is { } invoke)
            return $"({Parameters(invoke)}) : {Name(invoke.ReturnType)}";
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    /// <summary>A type's name as C# writes it, namespace included (System types by their keyword or short name).</summary>
    public static string Name(Type t) => TypeName(t, short_: false);

    private static string TypeName(Type t, bool short_)
    {
        if (t.IsGenericParameter) return t.Name;
        if (t.IsArray) return $"{Name(t.GetElementType()!)}[{new string(',', t.GetArrayRank() - 1)}]";
        if (t.IsPointer) return Name(t.GetElementType()!) + "*";
        if (Nullable.GetUnderlyingType(t) is { } u) return Name(u) + "?";
        string? keyword = Type.GetTypeCode(t) switch
        {
            TypeCode.Boolean => "bool", TypeCode.Byte => "byte", TypeCode.SByte => "sbyte", TypeCode.Char => "char",
            TypeCode.Int16 => "short", TypeCode.UInt16 => "ushort", TypeCode.Int32 => "int", TypeCode.UInt32 => "uint",
            TypeCode.Int64 => "long", TypeCode.UInt64 => "ulong", TypeCode.Single => "float", TypeCode.Double => "double",
            TypeCode.Decimal => "decimal", TypeCode.String => "string", _ => null,
        };
        if (t.IsEnum) keyword = null;
        if (keyword is not null) return keyword;
        if (t == typeof(object)) return "object";
        if (t == typeof(void)) return "void";
        string name = t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        var args = t.GetGenericArguments();
        if (t.IsNested)
        {
            // Only this type's own generic arguments (a nested type also carries its parent's).
            int parentArity = t.DeclaringType!.GetGenericArguments().Length;
            args = args[parentArity..];
        }
        var sb = new StringBuilder();
        if (!short_)
        {
            if (t.IsNested) sb.Append(Name(t.DeclaringType!)).Append('.');
            else if (t.Namespace is { } ns && ns != "System" && !ns.StartsWith("System.", StringComparison.Ordinal)) sb.Append(ns).Append('.');
        }
        sb.Append(name);
        if (args.Length > 0) sb.Append('<').Append(string.Join(", ", args.Select(Name))).Append('>');
        return sb.ToString();
    }
}
