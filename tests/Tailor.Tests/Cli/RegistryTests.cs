using System.Collections;
using System.CommandLine;
using System.Reflection;
using Tailor.Cli.Commands;

namespace Tailor.Tests.Cli;

/// <summary>The CLI's commands come from one immutable list (<see cref="Registry.Commands"/>), not from a static list
/// that files and tests add to.</summary>
public sealed class RegistryTests
{
    [Fact]
    public void NoStaticField_OfTheCli_IsAMutableCollection_OrHoldsCommands()
    {
        var offenders = new List<string>();
        foreach (var type in typeof(Tailor.Cli.CliApp).Assembly.GetTypes())
            foreach (var field in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (field.IsLiteral || field.Name.Contains('<')) continue;   // constants; compiler-generated
                var t = field.FieldType;
                bool mutableCollection = t.IsGenericType && t.GetGenericTypeDefinition() is var g &&
                    (g == typeof(List<>) || g == typeof(Dictionary<,>) || g == typeof(HashSet<>));
                bool holdsCommands = typeof(IEnumerable).IsAssignableFrom(t) && t.IsGenericType &&
                    t.GetGenericArguments().Any(a => a == typeof(Func<Command>) || a == typeof(Command));
                if (mutableCollection || (holdsCommands && !field.IsInitOnly))
                    offenders.Add($"{type.FullName}.{field.Name} ({t.Name})");
            }
        Assert.True(offenders.Count == 0, "mutable static collections: " + string.Join(", ", offenders));
    }

    [Fact]
    public void Registry_ListsEachCommandOnce_InTheOrderOfTheHelp()
    {
        Assert.Equal(Registry.Names.Distinct(), Registry.Names);
        Assert.Equal(["prepare", "train", "evaluate", "predict", "info", "reset"], Registry.Names.Take(6));
    }
}
