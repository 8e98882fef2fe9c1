// Linear warmup then cosine decay to a floor (the schedule of GPT-3 / llm.c): lr rises from
// max/warmup to max over the warmup steps, then follows half a cosine from max down to min at the
// last step. Steps count from 0.
namespace EdgeLM.Training;

public sealed record LearningRateSchedule(float MaxLearningRate, float MinLearningRate, int WarmupSteps, int TotalSteps)
{
    public float At(int step)
    {
        if (step < WarmupSteps) return MaxLearningRate * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - 1 - WarmupSteps);
        float progress = Math.Clamp((float)(step - WarmupSteps) / decaySteps, 0f, 1f);
        float cosine = 0.5f * (1f + MathF.Cos(MathF.PI * progress));
        return MinLearningRate + (MaxLearningRate - MinLearningRate) * cosine;
    }
}
