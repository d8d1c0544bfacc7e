using System.Globalization;
using System.IO.Compression;

namespace Jx.Demo;

/// <summary>Loads the UCI digits CSV (64 pixel values 0..16, then the label).</summary>
public static class Digits
{
    public static (float[,] X, int[] Y) Load(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        var rows = new List<string[]>();
        while (reader.ReadLine() is { } line)
            if (line.Length > 0) rows.Add(line.Split(','));
        var x = new float[rows.Count, 64];
        var y = new int[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != 65) throw new InvalidDataException($"{path}: row {i + 1} has {rows[i].Length} columns, expected 65");
            for (int j = 0; j < 64; j++) x[i, j] = float.Parse(rows[i][j], CultureInfo.InvariantCulture) / 16f;
            y[i] = int.Parse(rows[i][64], CultureInfo.InvariantCulture);
        }
        return (x, y);
    }
}
