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

    /// <summary>Within <see cref="Tolerance"/> (NaN is not).</summary>
    public static bool Passes(double relativeError) => relativeError <= Tolerance;

    /// <summary>One model's row. <paramref name="Refusal"/> is Tailor's message when it cannot train the layers (then the
    /// figures are absent); <paramref name="WorstTensor"/> names the tensor of the larger error.</summary>
    public sealed record Row(string Model, IReadOnlyList<string> Layers, double? SgdError, double? AdamError, bool? FrozenUnchanged,
        string? Refusal = null, string? WorstTensor = null, string? FrozenChanged = null, bool Failed = false)
    {
        public string Verdict =>
            Failed ? "Tailor failed"
            : Refusal is not null ? "cannot train yet"
            : SgdError is double s && AdamError is double a && FrozenUnchanged == true && Passes(s) && Passes(a) ? "match"
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
        sb.AppendLine("| model | layers trained | SGD rel. error (1 step) | Adam rel. error (3 steps) | frozen unchanged | verdict |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows)
        {
            string layers = r.Layers.Count == 0 ? "—" : string.Join(", ", r.Layers.Select(l => $"`{l}`"));
            string frozen = r.FrozenUnchanged switch { null => "—", true => "yes", false => $"NO ({r.FrozenChanged})" };
            string verdict = r.Refusal is not null ? $"{r.Verdict}: {Cell(r.Refusal)}"
                : r.Verdict == "match" ? "match" : $"MISMATCH{(r.WorstTensor is null ? "" : $" (worst: `{r.WorstTensor}`)")}";
            sb.AppendLine($"| {r.Model} | {layers} | {Error(r.SgdError)} | {Error(r.AdamError)} | {frozen} | {verdict} |");
        }
        return sb.ToString();
    }

    /// <summary>Text safe in one Markdown table cell.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
