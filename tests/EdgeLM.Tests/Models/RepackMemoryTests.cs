// The memory rule for load-time repacking (DecoderWeights.FitsInMemory): the mapped weights and their
// private copies together stay under three quarters of the memory the process may use, so a 7B F16 model
// that runs mapped on a 24 GiB machine is not repacked into swapping, while the small models are.
using EdgeLM.Models;

namespace EdgeLM.Tests.Models;

public class RepackMemoryTests
{
    const long GiB = 1L << 30, MiB = 1L << 20;

    [Theory]
    [InlineData(282 * MiB, 278 * MiB, 24 * GiB, true)] // Qwen2.5-0.5B Q4_0
    [InlineData(2475 * MiB, 537 * MiB, 24 * GiB, true)] // Llama-3.2-1B F16, long rows only
    [InlineData(14 * GiB, 14 * GiB, 24 * GiB, false)] // a 7B F16 model repacked whole
    [InlineData(4 * GiB, 4 * GiB, 8 * GiB, false)] // a 7B Q4_0 model on an 8 GiB laptop
    [InlineData(3 * GiB, 3 * GiB, 8 * GiB, true)] // exactly three quarters
    public void Copies_are_built_only_when_file_and_copies_fit(long mapped, long copies, long available, bool fits) =>
        Assert.Equal(fits, DecoderWeights.FitsInMemory(mapped, copies, available));
}
