namespace Tailor.Tests.Images;

/// <summary>
/// Writes a real baseline JPEG with four components (CMYK or YCCK, Adobe APP14 marker) whose 8×8 blocks are
/// each one flat value per component. A flat block's DCT has only the DC coefficient, 8·(v − 128), so with
/// a quantization table of ones the file encodes every value exactly and needs no AC codes but end-of-block.
/// Written by hand because no encoder at hand (Skia's, or ImageSharp's before it) writes CMYK or YCCK.
/// </summary>
internal static class FlatBlockJpeg
{
    /// <param name="blocks">[blockRow, blockColumn, component] sample values as stored in the file.</param>
    /// <param name="adobeTransform">0 = CMYK, 2 = YCCK.</param>
    public static byte[] Write(byte[,,] blocks, byte adobeTransform)
    {
        int rows = blocks.GetLength(0), columns = blocks.GetLength(1);
        var o = new List<byte>();
        void Marker(int m) { o.Add(0xFF); o.Add((byte)m); }
        void U16(int v) { o.Add((byte)(v >> 8)); o.Add((byte)v); }

        Marker(0xD8);
        Marker(0xEE); U16(14); o.AddRange("Adobe"u8.ToArray()); U16(100); U16(0); U16(0); o.Add(adobeTransform);
        Marker(0xDB); U16(67); o.Add(0); for (int i = 0; i < 64; i++) o.Add(1);
        Marker(0xC0); U16(8 + 3 * 4); o.Add(8); U16(rows * 8); U16(columns * 8); o.Add(4);
        for (int c = 1; c <= 4; c++) { o.Add((byte)c); o.Add(0x11); o.Add(0); }
        // DC table: the standard luminance DC table of ITU T.81 Annex K.3 (categories 0..11).
        byte[] dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        Marker(0xC4); U16(2 + 1 + 16 + 12); o.Add(0x00); o.AddRange(dcBits); for (int i = 0; i < 12; i++) o.Add((byte)i);
        // AC table: two 2-bit codes, EOB (0x00) = 00 and an unused 0x01 = 01.
        Marker(0xC4); U16(2 + 1 + 16 + 2); o.Add(0x10); o.Add(0); o.Add(2); for (int i = 2; i < 16; i++) o.Add(0); o.Add(0x00); o.Add(0x01);
        Marker(0xDA); U16(6 + 2 * 4); o.Add(4);
        for (int c = 1; c <= 4; c++) { o.Add((byte)c); o.Add(0x00); }
        o.Add(0); o.Add(63); o.Add(0);

        var dcCodes = DcCodes(dcBits);
        var bits = new BitWriter(o);
        var predictor = new int[4];
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < columns; col++)
                for (int c = 0; c < 4; c++)
                {
                    int dc = 8 * (blocks[r, col, c] - 128);
                    int diff = dc - predictor[c];
                    predictor[c] = dc;
                    int category = diff == 0 ? 0 : 32 - int.LeadingZeroCount(Math.Abs(diff));
                    var (code, length) = dcCodes[category];
                    bits.Write(code, length);
                    if (category > 0)
                        bits.Write(diff > 0 ? diff : diff + (1 << category) - 1, category);
                    bits.Write(0b00, 2); // end of block
                }
        bits.Flush();
        Marker(0xD9);
        return o.ToArray();
    }

    private static (int Code, int Length)[] DcCodes(byte[] bitsPerLength)
    {
        var codes = new (int, int)[12];
        int code = 0, symbol = 0;
        for (int length = 1; length <= 16; length++)
        {
            for (int i = 0; i < bitsPerLength[length - 1]; i++) codes[symbol++] = (code++, length);
            code <<= 1;
        }
        return codes;
    }

    private sealed class BitWriter(List<byte> output)
    {
        private int _buffer, _count;

        public void Write(int value, int length)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                _buffer = (_buffer << 1) | ((value >> i) & 1);
                if (++_count == 8) Emit();
            }
        }

        public void Flush()
        {
            while (_count != 0) Write(1, 1); // pad with ones (T.81 F.1.2.3)
        }

        private void Emit()
        {
            output.Add((byte)_buffer);
            if (_buffer == 0xFF) output.Add(0); // byte stuffing
            _buffer = 0; _count = 0;
        }
    }
}
