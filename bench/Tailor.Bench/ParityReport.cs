using System.Globalization;
using System.Text;

namespace Tailor.Bench;

/// <summary>
/// The comparison and the table of the parity tool (bench parity, Parity.cs), without ONNX, Tailor or PyTorch: what the tests
/// check without PyTorch installed.
/// </summary>
internal static class ParityReport
{
    /// <summary>The largest relative error allowed: max |Δtailor − Δtorch| / max |Δtorch| per tensor.</summary>
    public const double Tolerance = 1e-2;

    /// <summary>
    /// How far Tailor's update of one tensor is from PyTorch's, relative to the size of PyTorch's update:
    /// max |Δtailor − Δtorch| / max |Δtorch|, where Δ = trained − before. 0 when both updates are zero; infinity when only
    /// PyTorch's is zero and Tailor moved it; NaN when a value is not finite (a NaN never passes).
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> before, ReadOnlySpan<float> tailor, ReadOnlySpan<float> torch)
    {
        if (before.Length != tailor.Length || before.Length != torch.Length)
            throw new ArgumentException($"Lengths differ: before {before.Length}, Tailor {tailor.Length}, PyTorch {torch.Length}.");
        double diff = 0, scale = 0;
        for (int i = 0; i < before.Length; i++)
        {
            double dt = (double)tailor[i] - before[i], dp = (double)torch[i] - before[i];
            if (!double.IsFinite(dt) || !double.IsFinite(dp)) return double.NaN;
            diff = Math.Max(diff, Math.Abs(dt - dp));
            scale = Math.Max(scale, Math.Abs(dp));
        }
        if (diff == 0) return 0;
        return scale == 0 ? double.PositiveInfinity : diff / scale;
    }

    /// <summary>The largest gradient error allowed: max |g_tailor − g_torch| / max |g_torch| per tensor and step, both
    /// computed at the same weights (Tailor's before that step).</summary>
    public const double GradientTolerance = 1e-3;

    /// <summary>
    /// The float noise floor of a gradient element, relative to the largest element of its tensor at that step. A
    /// gradient element is a float32 sum over the batch and the spatial positions (about 10³ terms here), so its rounding
    /// error is up to about n·ε ≈ 10³ · 6e-8 ≈ 1e-4 of the largest terms; the two engines' gradients at the same weights
    /// agree to about 1e-5 of the largest element. Below this floor an element's value is rounding, and Adam, which divides
    /// each element's gradient by its own running magnitude, turns it into an update of about ±lr either way.
    /// </summary>
    public const double NoiseFloor = 1e-4;

    /// <summary>
    /// <see cref="RelativeError"/> over the elements whose gradient is above the noise floor at every step so far (or
    /// exactly zero, as a dead ReLU makes it in both engines): an element is left out when, at some step, either
    /// engine's gradient is nonzero and below <see cref="NoiseFloor"/> × the largest |gradient| of its tensor at that
    /// step. The scale stays max |Δtorch| over every element, so what is left out cannot make the error smaller by
    /// shrinking the scale. Returns the error and how many elements were left out.
    /// </summary>
    /// <param name="before">The tensor before the step.</param>
    /// <param name="tailor">Tailor's tensor after it.</param>
    /// <param name="torch">PyTorch's tensor after it, from the same before.</param>
    /// <param name="tailorGradients">Tailor's gradient of the tensor at each step so far, as the optimizer sees it (with
    /// the L2 decay λ·w added: where ∇ and λ·w nearly cancel, their sum is rounding too).</param>
    /// <param name="torchGradients">PyTorch's gradient at the same weights, at each step so far, likewise.</param>
    public static (double Error, int Masked) MaskedRelativeError(ReadOnlySpan<float> before, ReadOnlySpan<float> tailor, ReadOnlySpan<float> torch,
        IReadOnlyList<float[]> tailorGradients, IReadOnlyList<float[]> torchGradients)
    {
        if (before.Length != tailor.Length || before.Length != torch.Length)
            throw new ArgumentException($"Lengths differ: before {before.Length}, Tailor {tailor.Length}, PyTorch {torch.Length}.");
        if (tailorGradients.Count != torchGradients.Count)
            throw new ArgumentException($"Steps differ: Tailor {tailorGradients.Count}, PyTorch {torchGradients.Count}.");
        var masked = new bool[before.Length];
        for (int s = 0; s < torchGradients.Count; s++)
        {
            float[] gt = tailorGradients[s], gp = torchGradients[s];
            if (gt.Length != before.Length || gp.Length != before.Length)
                throw new ArgumentException($"Step {s + 1}: gradient lengths {gt.Length} and {gp.Length}, the tensor has {before.Length}.");
            double floor = 0;
            foreach (float g in gp) floor = Math.Max(floor, Math.Abs((double)g));
            floor *= NoiseFloor;
            for (int i = 0; i < masked.Length; i++)
            {
                double a = Math.Abs((double)gt[i]), b = Math.Abs((double)gp[i]);
                if ((a > 0 && a < floor) || (b > 0 && b < floor)) masked[i] = true;
            }
        }
        double diff = 0, scale = 0;
        int count = 0;
        for (int i = 0; i < before.Length; i++)
        {
            double dt = (double)tailor[i] - before[i], dp = (double)torch[i] - before[i];
            if (!double.IsFinite(dt) || !double.IsFinite(dp)) return (double.NaN, count);
            scale = Math.Max(scale, Math.Abs(dp));
            if (masked[i]) { count++; continue; }
            diff = Math.Max(diff, Math.Abs(dt - dp));
        }
        if (diff == 0) return (0, count);
        return (scale == 0 ? double.PositiveInfinity : diff / scale, count);
    }

    /// <summary>How far Tailor's gradient of one tensor is from PyTorch's at the same weights: max |g_tailor − g_torch| /
    /// max |g_torch| (0 when both are zero, infinity when only PyTorch's is, NaN when a value is not finite).</summary>
    public static double GradientError(ReadOnlySpan<float> tailor, ReadOnlySpan<float> torch) =>
        RelativeError(new float[tailor.Length], tailor, torch);

    /// <summary>Within <see cref="Tolerance"/> (NaN is not).</summary>
    public static bool Passes(double relativeError) => relativeError <= Tolerance;

    /// <summary>One model's row. <paramref name="Refusal"/> is Tailor's message when it cannot train the layers (then the
    /// figures are absent); <paramref name="WorstTensor"/> names the tensor of the larger error.
    /// <paramref name="GradientError"/> is the worst <c>ParityReport.GradientError</c>
    /// over tensors and steps (absent: not measured); <paramref name="AdamDrift"/> the unmasked error of three free-running
    /// Adam steps on each side (information only: see the README).</summary>
    public sealed record Row(string Model, IReadOnlyList<string> Layers, double? SgdError, double? AdamError, bool? FrozenUnchanged,
        string? Refusal = null, string? WorstTensor = null, string? FrozenChanged = null, bool Failed = false,
        double? GradientError = null, double? AdamDrift = null)
    {
        public string Verdict =>
            Failed ? "Tailor failed"
            : Refusal is not null ? "cannot train yet"
            : SgdError is double s && AdamError is double a && FrozenUnchanged == true && Passes(s) && Passes(a)
                && (GradientError is not double g || g <= GradientTolerance) ? "match"
            : "MISMATCH";

        /// <summary>A match, or a clear refusal (the model cannot train deep yet). A failure or a mismatch is not.</summary>
        public bool Ok => Verdict is "match" or "cannot train yet";
    }

    public static string Error(double? e) => e switch
    {
        null => "—",
        double.NaN => "NaN",
        double.PositiveInfinity => "∞",
        double v => v.ToString("0.0e+0", CultureInfo.InvariantCulture),
    };

    /// <summary>The table as Markdown (it goes in the README as it is printed).</summary>
    public static string Table(IEnumerable<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| model | layers trained | gradient rel. error (4 steps) | SGD rel. error (1 step) | Adam rel. error (3 steps) | Adam free-run drift | frozen unchanged | verdict |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows)
        {
            string layers = r.Layers.Count == 0 ? "—" : string.Join(", ", r.Layers.Select(l => $"`{l}`"));
            string frozen = r.FrozenUnchanged switch { null => "—", true => "yes", false => $"NO ({r.FrozenChanged})" };
            string verdict = r.Refusal is not null ? $"{r.Verdict}: {Cell(r.Refusal)}"
                : r.Verdict == "match" ? "match" : $"MISMATCH{(r.WorstTensor is null ? "" : $" (worst: `{r.WorstTensor}`)")}";
            sb.AppendLine($"| {r.Model} | {layers} | {Error(r.GradientError)} | {Error(r.SgdError)} | {Error(r.AdamError)} | {Error(r.AdamDrift)} | {frozen} | {verdict} |");
        }
        return sb.ToString();
    }

    /// <summary>Text safe in one Markdown table cell.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
