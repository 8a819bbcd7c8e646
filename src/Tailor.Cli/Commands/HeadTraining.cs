using Tailor.Data;
using Tailor.Images;

namespace Tailor.Cli.Commands;

/// <summary>--head knn / logreg (issue 4).</summary>
internal static class HeadTraining
{
    public static Task<int> RunAsync(string head, UpdatableModel model, LabeledFolder train, LabeledFolder? validation, string output,
        AugmentationOptions augmentation, int? seed, int? k, string? weighting, string? metric, double? l2, bool json, CancellationToken ct) =>
        throw new TailorException($"--head {head} is not available yet.");
}
