using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("Tailor.Tests.LongestFirstOrderer", "Tailor.Tests")]

namespace Tailor.Tests;

/// <summary>
/// Starts the test collections that take longest first. xUnit runs two collections at a time here (one per core) in
/// the order an orderer gives, and its default order is a hash of each collection's id: a collection of minutes could
/// start last and run alone at the end while the other core idles. Longest first, the short unit-test classes fill the
/// gaps at the end instead. Only the order changes: every test runs, in its own collection, with its own fixtures.
/// </summary>
/// <remarks>The durations are the ones measured by a whole run (<c>dotnet test tests/Tailor.Tests --logger trx</c>, the
/// sum of each collection's test durations); a collection not listed counts as long when one of its classes carries
/// <c>[Trait("Category", "Slow")]</c>. A wrong figure costs minutes of idle core, never a failure.</remarks>
public sealed class LongestFirstOrderer : ITestCollectionOrderer
{
    /// <summary>Seconds per collection (a class's full name, or a [Collection] name), the sum of its tests' durations in a
    /// whole run on two shared cores (load 25–35, so about four times a quiet machine's); only their order matters.</summary>
    private static readonly Dictionary<string, double> Measured = new(StringComparer.Ordinal)
    {
        ["Browser"] = 636,
        ["Tailor.Tests.Studio.Runs.RunManagerTests"] = 423,
        ["Tailor.Tests.ReadmeTests"] = 380,
        ["Tailor.Tests.PackageTests"] = 376,
        ["Tailor.Tests.Studio.Workspace.WorkspaceVersionTests"] = 346,
        ["Tailor.Tests.Cli.TrainCommandTests"] = 258,
        ["Tailor.Tests.Cli.LauncherTests"] = 236,
        ["Default hands training"] = 230,
        ["Tailor.Tests.Studio.StudioAccuracyTests"] = 214,
        ["Tailor.Tests.Studio.Recovery.StudioKillTests"] = 171,
        ["Tailor.Tests.Training.UpdateTaskTests"] = 160,
        ["Tailor.Tests.Cli.TrainLabelDataTests"] = 143,
        ["Tailor.Tests.Cli.OptionValueTests"] = 133,
        ["Tailor.Tests.Training.KeepBestTests"] = 125,
        ["Tailor.Tests.Heads.HeadTrainerTests"] = 121,
        ["Tailor.Tests.Training.LabelContractTests"] = 114,
        ["Tailor.Tests.Heads.SlotContractTests"] = 111,
        ["Tailor.Tests.Bench.TorchParityTests"] = 102,
    };

    /// <summary>A collection not measured: 20 s when one of its classes is slow, else 1 s.</summary>
    private const double Slow = 20, Fast = 1;

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderByDescending(Seconds).ThenBy(c => c.UniqueID);

    private static double Seconds(ITestCollection collection)
    {
        // A class's own collection is shown as "Test collection for <class>"; a [Collection("X")] one as "X".
        const string Own = "Test collection for ";
        bool own = collection.DisplayName.StartsWith(Own, StringComparison.Ordinal);
        string name = own ? collection.DisplayName[Own.Length..] : collection.DisplayName;
        if (Measured.TryGetValue(name, out double seconds)) return seconds;
        var classes = typeof(LongestFirstOrderer).Assembly.GetTypes()
            .Where(t => own ? t.FullName == name : Attribute(t, typeof(CollectionAttribute)).Any(a => (string?)a[0] == name));
        return classes.Any(t => Attribute(t, typeof(TraitAttribute)).Any(a => (string?)a[0] == "Category" && (string?)a[1] == "Slow")) ? Slow : Fast;
    }

    /// <summary>The constructor arguments of each <paramref name="attribute"/> on <paramref name="type"/>.</summary>
    private static IEnumerable<object?[]> Attribute(Type type, Type attribute) =>
        type.GetCustomAttributesData().Where(a => a.AttributeType == attribute).Select(a => a.ConstructorArguments.Select(c => c.Value).ToArray());
}
