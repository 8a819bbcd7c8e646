using System.Globalization;

namespace Tailor.Images;

/// <summary>Random changes made to a training image before it is resized to the model's input, so a few
/// photos teach more than a few poses. Immutable; the defaults change nothing.</summary>
/// <remarks>
/// Order in which the <see cref="Augmenter"/> applies them: random resized crop, horizontal flip, vertical
/// flip, random multiple of 90°, small rotation, brightness, contrast, saturation. Each random draw is
/// uniform. Test and evaluation images are never augmented.
/// </remarks>
public sealed record AugmentationOptions
{
    /// <summary>Nothing changes: every variant is the original image.</summary>
    public static AugmentationOptions None { get; } = new();

    /// <summary>What few-shot sets train best with on the embedded backbone (measured on the hands photos,
    /// see DESIGN, "What the embedded backbone gives"): mirror half the time, rotate by up to ±15°, keep a
    /// random 80–100% of the area, 4 variants per example. With the default fine-tuning, adding the crop
    /// raised the seeds that reach 14/15 on the hands test photos from 5 of 8 to 8 of 11; 8 variants,
    /// colour jitter, ±30° or 90° turns did not help. Same as
    /// <c>Parse("flip,rotate:15,crop:0.8,variants:4")</c>; the default of a prepared model.</summary>
    public static AugmentationOptions FewShot { get; } = new()
    {
        HorizontalFlip = TrainingDefaults.FewShotHorizontalFlip, RotationDegrees = TrainingDefaults.FewShotRotationDegrees,
        CropMinScale = TrainingDefaults.FewShotCropMinScale, VariantsPerExample = TrainingDefaults.FewShotVariantsPerExample,
    };

    /// <summary>Mirror left–right with probability ½. Default false.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Mirror top–bottom with probability ½. Default false.</summary>
    public bool VerticalFlip { get; init; }

    /// <summary>Rotate by an angle drawn from [−RotationDegrees, +RotationDegrees], then zoom in just enough
    /// that no empty corner shows (the result keeps the source's size). 0..180; default 0 (off).</summary>
    public float RotationDegrees { get; init; }

    /// <summary>Rotate by 0°, 90°, 180° or 270°, each with probability ¼ (for photos taken in any
    /// orientation). Default false.</summary>
    public bool Rotate90 { get; init; }

    /// <summary>Random resized crop: keep a region whose area is a fraction drawn from
    /// [CropMinScale, 1] of the image, with an aspect ratio (width/height) drawn log-uniformly from
    /// [<see cref="CropMinAspectRatio"/>, <see cref="CropMaxAspectRatio"/>], at a random place (as
    /// torchvision's RandomResizedCrop). 0 &lt; value ≤ 1; default 1 (off).</summary>
    public float CropMinScale { get; init; } = 1f;

    /// <summary>Smallest aspect ratio of the random crop. Default 3/4.</summary>
    public float CropMinAspectRatio { get; init; } = 3f / 4f;

    /// <summary>Largest aspect ratio of the random crop. Default 4/3.</summary>
    public float CropMaxAspectRatio { get; init; } = 4f / 3f;

    /// <summary>Multiply every channel by a factor drawn from [1 − Brightness, 1 + Brightness]. 0..1;
    /// default 0 (off).</summary>
    public float Brightness { get; init; }

    /// <summary>Move every channel away from (factor &gt; 1) or towards (factor &lt; 1) mid-grey by a factor
    /// drawn from [1 − Contrast, 1 + Contrast]. 0..1; default 0 (off).</summary>
    public float Contrast { get; init; }

    /// <summary>Scale colourfulness by a factor drawn from [1 − Saturation, 1 + Saturation] (0 would be
    /// grey). 0..1; default 0 (off).</summary>
    public float Saturation { get; init; }

    /// <summary>How many augmented variants of each example the feature cache keeps (each costs one forward
    /// pass of the frozen prefix). 1..1000; default 1.</summary>
    public int VariantsPerExample { get; init; } = 1;

    /// <summary>True when no transform is switched on.</summary>
    public bool IsIdentity =>
        !HorizontalFlip && !VerticalFlip && RotationDegrees == 0 && !Rotate90 && CropMinScale >= 1f
        && Brightness == 0 && Contrast == 0 && Saturation == 0;

    /// <summary>The names <see cref="Parse"/> accepts, with their argument and default.</summary>
    public const string AllowedNames =
        "flip (or hflip), vflip, rotate[:DEGREES=15], rotate90, crop[:MIN_SCALE=0.8[:MIN_ASPECT:MAX_ASPECT]], " +
        "brightness[:AMOUNT=0.2], contrast[:AMOUNT=0.2], saturation[:AMOUNT=0.2], variants:K, none";

    /// <summary>Parses a comma-separated list such as
    /// <c>"flip,rotate:15,rotate90,crop:0.8,brightness:0.2,contrast:0.2,saturation:0.2,variants:4"</c>.
    /// Names are case-insensitive; an empty string or <c>"none"</c> gives <see cref="None"/>. Numbers use
    /// '.' as the decimal point.</summary>
    /// <exception cref="TailorException">An unknown name (the message lists the allowed ones), a missing or
    /// malformed number, or a value outside its range.</exception>
    public static AugmentationOptions Parse(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var options = None;
        foreach (var raw in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = raw.Split(':', StringSplitOptions.TrimEntries);
            string name = parts[0].ToLowerInvariant();
            string[] args = parts[1..];
            options = name switch
            {
                "none" => NoArgs(raw, args, options),
                "flip" or "hflip" => NoArgs(raw, args, options) with { HorizontalFlip = true },
                "vflip" => NoArgs(raw, args, options) with { VerticalFlip = true },
                "rotate90" => NoArgs(raw, args, options) with { Rotate90 = true },
                "rotate" => options with { RotationDegrees = Number(raw, args, 0, 15f, 0f, 180f, "degrees") },
                "brightness" => options with { Brightness = Number(raw, args, 0, 0.2f, 0f, 1f, "amount") },
                "contrast" => options with { Contrast = Number(raw, args, 0, 0.2f, 0f, 1f, "amount") },
                "saturation" => options with { Saturation = Number(raw, args, 0, 0.2f, 0f, 1f, "amount") },
                "variants" => options with { VariantsPerExample = (int)Number(raw, args, 0, float.NaN, 1f, 1000f, "count", integer: true) },
                "crop" => ParseCrop(raw, args, options),
                _ => throw new TailorException($"Unknown augmentation '{parts[0]}' in \"{list}\"; allowed: {AllowedNames}."),
            };
        }
        options.Validate();
        return options;
    }

    /// <summary>The list form <see cref="Parse"/> reads back into an equal record ("none" when nothing is on).</summary>
    public override string ToString()
    {
        var items = new List<string>();
        if (HorizontalFlip) items.Add("flip");
        if (VerticalFlip) items.Add("vflip");
        if (RotationDegrees != 0) items.Add(Item("rotate", RotationDegrees));
        if (Rotate90) items.Add("rotate90");
        if (CropMinScale < 1f)
            items.Add(CropMinAspectRatio == 3f / 4f && CropMaxAspectRatio == 4f / 3f
                ? Item("crop", CropMinScale)   // the default aspect range need not be spelled out
                : string.Create(CultureInfo.InvariantCulture, $"crop:{CropMinScale:R}:{CropMinAspectRatio:R}:{CropMaxAspectRatio:R}"));
        if (Brightness != 0) items.Add(Item("brightness", Brightness));
        if (Contrast != 0) items.Add(Item("contrast", Contrast));
        if (Saturation != 0) items.Add(Item("saturation", Saturation));
        if (VariantsPerExample != 1) items.Add(string.Create(CultureInfo.InvariantCulture, $"variants:{VariantsPerExample}"));
        return items.Count == 0 ? "none" : string.Join(',', items);

        static string Item(string name, float value) => string.Create(CultureInfo.InvariantCulture, $"{name}:{value:R}");
    }

    /// <summary>Checks every value against its range.</summary>
    /// <exception cref="TailorException">A value is outside its range; the message names it and the range.</exception>
    public void Validate()
    {
        Check(nameof(RotationDegrees), RotationDegrees, 0, 180);
        Check(nameof(CropMinScale), CropMinScale, float.Epsilon, 1);
        Check(nameof(CropMinAspectRatio), CropMinAspectRatio, 0.1f, 10);
        Check(nameof(CropMaxAspectRatio), CropMaxAspectRatio, 0.1f, 10);
        if (CropMinAspectRatio > CropMaxAspectRatio)
            throw new TailorException(
                $"CropMinAspectRatio {CropMinAspectRatio} is larger than CropMaxAspectRatio {CropMaxAspectRatio}; the range must be ascending.");
        Check(nameof(Brightness), Brightness, 0, 1);
        Check(nameof(Contrast), Contrast, 0, 1);
        Check(nameof(Saturation), Saturation, 0, 1);
        if (VariantsPerExample is < 1 or > 1000)
            throw new TailorException($"VariantsPerExample {VariantsPerExample} is outside the allowed range 1..1000.");

        static void Check(string name, float value, float min, float max)
        {
            if (!(value >= min && value <= max))
                throw new TailorException(string.Create(CultureInfo.InvariantCulture,
                    $"{name} {value} is outside the allowed range {(min == float.Epsilon ? "above 0" : min.ToString(CultureInfo.InvariantCulture))}..{max}."));
        }
    }

    private static AugmentationOptions NoArgs(string item, string[] args, AugmentationOptions options) =>
        args.Length == 0 ? options : throw new TailorException($"Augmentation '{item}' takes no value; allowed: {AllowedNames}.");

    private static AugmentationOptions ParseCrop(string item, string[] args, AugmentationOptions options)
    {
        if (args.Length is not (0 or 1 or 3))
            throw new TailorException($"Augmentation '{item}' must be crop, crop:MIN_SCALE or crop:MIN_SCALE:MIN_ASPECT:MAX_ASPECT.");
        return options with
        {
            CropMinScale = Number(item, args, 0, 0.8f, 0.01f, 1f, "minimum scale"),
            CropMinAspectRatio = args.Length == 3 ? Number(item, args, 1, 0, 0.1f, 10f, "minimum aspect ratio") : 3f / 4f,
            CropMaxAspectRatio = args.Length == 3 ? Number(item, args, 2, 0, 0.1f, 10f, "maximum aspect ratio") : 4f / 3f,
        };
    }

    private static float Number(string item, string[] args, int index, float fallback, float min, float max, string what,
                                bool integer = false)
    {
        if (args.Length <= index)
        {
            if (float.IsNaN(fallback))
                throw new TailorException($"Augmentation '{item}' needs a value ({what}, {min}..{max}), e.g. '{item}:4'.");
            return fallback;
        }
        if (args.Length > index + 1 && index == 0 && !item.StartsWith("crop", StringComparison.OrdinalIgnoreCase))
            throw new TailorException($"Augmentation '{item}' takes one value ({what}).");
        if (!float.TryParse(args[index], NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
            || (integer && value != MathF.Round(value)))
            throw new TailorException(
                $"Augmentation '{item}': '{args[index]}' is not a valid {what}; expected {(integer ? "a whole number" : "a number")} in {min}..{max}.");
        if (!(value >= min && value <= max))
            throw new TailorException(string.Create(CultureInfo.InvariantCulture,
                $"Augmentation '{item}': {what} {value} is outside the allowed range {min}..{max}."));
        return value;
    }
}
