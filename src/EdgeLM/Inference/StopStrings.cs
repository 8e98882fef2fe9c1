// Stop strings over streamed text: holds back just enough text to recognise a stop string that
// spans token boundaries, releases the rest, and cuts the output where a stop string begins.
using System.Text;

namespace EdgeLM.Inference;

public sealed class StopStrings
{
    readonly string[] _stops;
    readonly int _holdBack;
    readonly StringBuilder _pending = new();

    public StopStrings(IReadOnlyList<string> stops)
    {
        _stops = stops.Where(s => s.Length > 0).ToArray();
        _holdBack = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
    }

    /// <summary>True once a stop string has been seen; no more text follows.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds text; returns what can be shown now (possibly empty).</summary>
    public string Push(string text)
    {
        if (Stopped) return "";
        if (_stops.Length == 0) return text;
        _pending.Append(text);
        string all = _pending.ToString();
        int cut = -1;
        foreach (var s in _stops)
        {
            int i = all.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return all[..cut];
        }
        int release = Math.Max(0, all.Length - _holdBack);
        // Never release half of a surrogate pair.
        if (release > 0 && release < all.Length && char.IsHighSurrogate(all[release - 1])) release--;
        _pending.Remove(0, release);
        return all[..release];
    }

    /// <summary>The held-back text at the end of generation.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
