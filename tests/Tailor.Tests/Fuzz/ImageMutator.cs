using System.Buffers.Binary;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// Deterministic mutations of image files: bit flips, truncation, byte ranges copied over others, garbage appended or
/// inserted, and edits of the header fields each format's decoder trusts (width and height set to huge values, chunk
/// and segment lengths, bit depths, colour types). PNG chunks edited here get their CRC fixed, so the edit reaches the
/// decoder instead of being refused by the checksum.
/// </summary>
internal static class ImageMutator
{
    public enum Format { Jpeg, Png, Bmp, Gif, Webp }

    /// <summary>A header field: where it is, how many bytes, whether big-endian, what it is, and (PNG) the chunk whose
    /// CRC covers it.</summary>
    private readonly record struct Field(int Offset, int Size, bool BigEndian, string Name, int CrcStart = -1, int CrcLength = 0);

    /// <summary>Applies one to three mutations; returns the new bytes and what was done (for the failure report).</summary>
    public static (byte[] Bytes, string Description) Mutate(byte[] original, Format format, Random random)
    {
        var bytes = original.ToArray();
        var done = new List<string>();
        int count = random.Next(1, 4);
        for (int m = 0; m < count; m++)
        {
            int kind = random.Next(8);
            switch (kind)
            {
                case 0 or 1:
                {
                    var fields = Fields(bytes, format);
                    if (fields.Count == 0) goto case 2;
                    var field = fields[random.Next(fields.Count)];
                    ulong value = InterestingValue(bytes, field, random);
                    Write(bytes, field, value);
                    done.Add($"{field.Name}@{field.Offset} = {value}");
                    break;
                }
                case 2:
                {
                    int flips = random.Next(1, 9);
                    var at = new List<int>();
                    for (int i = 0; i < flips && bytes.Length > 0; i++)
                    {
                        // Half of the flips land in the first 64 bytes, where the headers are.
                        int offset = random.Next(2) == 0 ? random.Next(Math.Min(64, bytes.Length)) : random.Next(bytes.Length);
                        bytes[offset] ^= (byte)(1 << random.Next(8));
                        at.Add(offset);
                    }
                    done.Add($"bit flips at {string.Join(',', at)}");
                    break;
                }
                case 3:
                {
                    int length = random.Next(bytes.Length);
                    bytes = bytes[..length];
                    done.Add($"truncated to {length}");
                    break;
                }
                case 4:
                {
                    if (bytes.Length < 2) goto case 5;
                    int from = random.Next(bytes.Length), to = random.Next(bytes.Length);
                    int length = random.Next(1, Math.Min(bytes.Length - Math.Max(from, to), 256) + 1);
                    Array.Copy(bytes, from, bytes, to, length);
                    done.Add($"copied {length} bytes from {from} to {to}");
                    break;
                }
                case 5:
                {
                    var garbage = new byte[random.Next(1, 4097)];
                    random.NextBytes(garbage);
                    bytes = [.. bytes, .. garbage];
                    done.Add($"appended {garbage.Length} random bytes");
                    break;
                }
                case 6:
                {
                    var garbage = new byte[random.Next(1, 65)];
                    random.NextBytes(garbage);
                    int at = random.Next(bytes.Length + 1);
                    bytes = [.. bytes[..at], .. garbage, .. bytes[at..]];
                    done.Add($"inserted {garbage.Length} random bytes at {at}");
                    break;
                }
                default:
                {
                    // Every size field at once set to the largest value it holds: the decompression-bomb header.
                    var sizes = Fields(bytes, format).Where(f => f.Name.Contains("width") || f.Name.Contains("height")).ToList();
                    if (sizes.Count == 0) goto case 2;
                    foreach (var f in sizes) Write(bytes, f, Max(f));
                    done.Add("every width/height at its maximum");
                    break;
                }
            }
        }
        return (bytes, string.Join("; ", done));
    }

    private static ulong Max(Field f) =>
        f.Name.Contains("VP8L") ? 0x0FFFFFFF : f.Name.Contains("VP8 ") ? 0x3FFF : f.Size == 4 ? int.MaxValue : (1UL << (8 * f.Size)) - 1;

    private static ulong InterestingValue(byte[] bytes, Field field, Random random)
    {
        ulong current = Read(bytes, field), mask = field.Size == 8 ? ulong.MaxValue : (1UL << (8 * field.Size)) - 1;
        ulong[] candidates =
        [
            0, 1, 2, 3, 7, 8, 15, 16, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 16383, 30_001, 65_536, 100_000_000, 0x7FFFFFFF, 0x80000000,
            0xFFFFFFFF, current + 1, current - 1, current * 2, current * 1000, current >> 1, (ulong)random.NextInt64(),
        ];
        return candidates[random.Next(candidates.Length)] & mask;
    }

    private static ulong Read(byte[] bytes, Field f)
    {
        ulong value = 0;
        for (int i = 0; i < f.Size; i++)
        {
            int at = f.BigEndian ? f.Offset + i : f.Offset + f.Size - 1 - i;
            value = (value << 8) | (at < bytes.Length ? bytes[at] : 0u);
        }
        return value;
    }

    private static void Write(byte[] bytes, Field f, ulong value)
    {
        for (int i = 0; i < f.Size; i++)
        {
            int at = f.BigEndian ? f.Offset + f.Size - 1 - i : f.Offset + i;
            if (at < bytes.Length) bytes[at] = (byte)(value >> (8 * i));
        }
        if (f.CrcStart >= 0 && f.CrcStart + f.CrcLength + 4 <= bytes.Length)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(f.CrcStart + f.CrcLength),
                Images.TestImages.Crc32(bytes.AsSpan(f.CrcStart, f.CrcLength)));
    }

    /// <summary>The header fields of the file as it is now (a previous mutation may have moved or broken them).</summary>
    private static List<Field> Fields(byte[] b, Format format)
    {
        var fields = new List<Field>();
        try
        {
            switch (format)
            {
                case Format.Png: PngFields(b, fields); break;
                case Format.Jpeg: JpegFields(b, fields); break;
                case Format.Bmp: BmpFields(fields); break;
                case Format.Gif: GifFields(b, fields); break;
                case Format.Webp: WebpFields(b, fields); break;
            }
        }
        catch (ArgumentOutOfRangeException) { }   // a header already broken: the fields found so far
        catch (IndexOutOfRangeException) { }
        return fields.Where(f => f.Offset + f.Size <= b.Length).ToList();
    }

    private static void PngFields(byte[] b, List<Field> fields)
    {
        // 8-byte signature, then chunks: length (4, big-endian), type (4), data, CRC of type + data.
        for (int at = 8; at + 12 <= b.Length && fields.Count < 40;)
        {
            int length = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at)), int.MaxValue);
            string type = System.Text.Encoding.ASCII.GetString(b, at + 4, 4);
            fields.Add(new Field(at, 4, true, $"png {type} length"));
            bool whole = at + 8 + (long)length + 4 <= b.Length;
            int crcStart = whole ? at + 4 : -1, crcLength = length + 4;
            if (type == "IHDR")
            {
                fields.Add(new Field(at + 8, 4, true, "png width", crcStart, crcLength));
                fields.Add(new Field(at + 12, 4, true, "png height", crcStart, crcLength));
                fields.Add(new Field(at + 16, 1, true, "png bit depth", crcStart, crcLength));
                fields.Add(new Field(at + 17, 1, true, "png colour type", crcStart, crcLength));
                fields.Add(new Field(at + 20, 1, true, "png interlace", crcStart, crcLength));
            }
            if (!whole) break;
            at += 12 + length;
        }
    }

    private static void JpegFields(byte[] b, List<Field> fields)
    {
        // Markers FF xx; all but SOI, EOI, RSTn and TEM carry a big-endian length that counts itself.
        for (int at = 2; at + 4 <= b.Length && fields.Count < 40;)
        {
            if (b[at] != 0xFF) return;
            byte marker = b[at + 1];
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { at += 2; continue; }
            fields.Add(new Field(at + 2, 2, true, $"jpeg FF{marker:X2} length"));
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
            {
                fields.Add(new Field(at + 4, 1, true, "jpeg precision"));
                fields.Add(new Field(at + 5, 2, true, "jpeg height"));
                fields.Add(new Field(at + 7, 2, true, "jpeg width"));
                fields.Add(new Field(at + 9, 1, true, "jpeg components"));
                fields.Add(new Field(at + 11, 1, true, "jpeg sampling factors"));
            }
            if (marker == 0xDA) return;   // entropy-coded data follows
            at += 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2));
        }
    }

    private static void BmpFields(List<Field> fields)
    {
        // BITMAPFILEHEADER then BITMAPINFOHEADER, little-endian.
        fields.AddRange([new(2, 4, false, "bmp file size"), new(10, 4, false, "bmp data offset"), new(14, 4, false, "bmp header size"),
            new(18, 4, false, "bmp width"), new(22, 4, false, "bmp height"), new(26, 2, false, "bmp planes"),
            new(28, 2, false, "bmp bits per pixel"), new(30, 4, false, "bmp compression"), new(34, 4, false, "bmp image size"),
            new(46, 4, false, "bmp colours used")]);
    }

    private static void GifFields(byte[] b, List<Field> fields)
    {
        // "GIF89a", logical screen width and height (16-bit little-endian), flags; then the global colour table,
        // extensions (21 label, sub-blocks) and image descriptors (2C, left, top, width, height, flags).
        fields.AddRange([new(6, 2, false, "gif screen width"), new(8, 2, false, "gif screen height"), new(10, 1, false, "gif flags")]);
        int at = 13 + ((b[10] & 0x80) != 0 ? 3 << ((b[10] & 7) + 1) : 0);
        while (at < b.Length && fields.Count < 40)
        {
            if (b[at] == 0x21)
            {
                at += 2;
                while (at < b.Length && b[at] != 0)
                {
                    fields.Add(new Field(at, 1, false, "gif sub-block length"));
                    at += 1 + b[at];
                }
                at++;
            }
            else if (b[at] == 0x2C)
            {
                fields.AddRange([new(at + 1, 2, false, "gif image left"), new(at + 3, 2, false, "gif image top"),
                    new(at + 5, 2, false, "gif image width"), new(at + 7, 2, false, "gif image height"), new(at + 9, 1, false, "gif image flags")]);
                int flags = b[at + 9];
                at += 10 + ((flags & 0x80) != 0 ? 3 << ((flags & 7) + 1) : 0);
                fields.Add(new Field(at, 1, false, "gif LZW code size"));
                at++;
                while (at < b.Length && b[at] != 0)
                {
                    fields.Add(new Field(at, 1, false, "gif sub-block length"));
                    at += 1 + b[at];
                }
                at++;
            }
            else return;
        }
    }

    private static void WebpFields(byte[] b, List<Field> fields)
    {
        // RIFF size, then chunks: FourCC, size (32-bit little-endian), data.
        fields.Add(new Field(4, 4, false, "webp RIFF size"));
        for (int at = 12; at + 8 <= b.Length && fields.Count < 40;)
        {
            string type = System.Text.Encoding.ASCII.GetString(b, at, 4);
            fields.Add(new Field(at + 4, 4, false, $"webp {type} size"));
            if (type == "VP8L")
                // Signature 0x2F, then a 32-bit little-endian word: 14 bits width − 1, 14 bits height − 1, alpha, version.
                fields.AddRange([new(at + 9, 4, false, "webp VP8L width-1/height-1 bits"), new(at + 8, 1, false, "webp VP8L signature")]);
            if (type == "VP8 ")
                // Frame tag (3), start code 9D 01 2A, then 14-bit width and height with 2 scale bits each.
                fields.AddRange([new(at + 14, 2, false, "webp VP8 width"), new(at + 16, 2, false, "webp VP8 height")]);
            if (type == "VP8X")
                fields.AddRange([new(at + 8, 1, false, "webp VP8X flags"), new(at + 12, 3, false, "webp VP8X width-1"),
                    new(at + 15, 3, false, "webp VP8X height-1")]);
            at += 8 + (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at + 4)) + 1 & ~1u, int.MaxValue - 16);
        }
    }
}
