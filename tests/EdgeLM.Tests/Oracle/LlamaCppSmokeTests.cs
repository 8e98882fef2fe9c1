using LLama.Native;

namespace EdgeLM.Tests.Oracle;

public class LlamaCppSmokeTests
{
    [Fact]
    public void The_llama_cpp_oracle_loads_in_the_test_process()
    {
        NativeApi.llama_empty_call();
        Assert.True(NativeApi.llama_max_devices() >= 1);
    }
}
