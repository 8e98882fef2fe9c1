#!/usr/bin/env python3
# Produces the golden chat-template renderings that ChatTemplateGoldenTests compares against.
# It renders every template under this folder the way Hugging Face transformers'
# apply_chat_template does (ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks,
# the loopcontrols extension, the tojson override with ensure_ascii=False, raise_exception and
# strftime_now), with jinja2 3.1.6. The clock is fixed so that strftime_now is reproducible.
#
# Re-run from the repository root after changing a template or a conversation:
#   python3 tests/EdgeLM.Tests/Templates/Golden/generate_golden.py
# It rewrites phi3.jinja (read from the shared GGUF) and every *.golden.json here.
import datetime
import json
import os
import struct
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.environ.get("EDGELM_TESTDATA") or os.path.join(HERE, "../../../../../shared/testdata")
FIXED_NOW = datetime.datetime(2025, 1, 15, 9, 30, 0)


def gguf_string(path, wanted):
    """Reads one string key from a GGUF file's metadata (versions 2 and 3)."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        data = f.read()
    pos = 4 + 4 + 8 + 8
    (n_kv,) = struct.unpack_from("<Q", data, 16)

    def read_str(p):
        (n,) = struct.unpack_from("<Q", data, p)
        return data[p + 8:p + 8 + n].decode("utf-8"), p + 8 + n

    def skip(t, p):
        if t == 8:
            return read_str(p)[1]
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, p)
            p += 12
            for _ in range(n):
                p = skip(et, p)
            return p
        return p + sizes[t]

    for _ in range(n_kv):
        key, pos = read_str(pos)
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if key == wanted and t == 8:
            return read_str(pos)[0]
        pos = skip(t, pos)
    raise KeyError(wanted)


def make_env():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def to_template_message(m, arguments_as_text):
    """The dictionary a template sees: only the keys the message has, content always present."""
    d = {"role": m["role"], "content": m.get("content")}
    if "tool_calls" in m:
        calls = []
        for c in m["tool_calls"]:
            args = c["function"]["arguments"]
            call = {"type": c.get("type", "function"),
                    "function": {"name": c["function"]["name"],
                                 "arguments": json.dumps(args, ensure_ascii=False) if arguments_as_text else args}}
            if "id" in c:
                call["id"] = c["id"]
            calls.append(call)
        d["tool_calls"] = calls
    for key in ("name", "tool_call_id", "reasoning_content"):
        if key in m:
            d[key] = m[key]
    return d


SYSTEM = {"role": "system", "content": "You are a concise assistant. Answer in one sentence."}
TURNS = [
    {"role": "user", "content": "Hello! Who are you?"},
    {"role": "assistant", "content": "  I am a helpful assistant, here to answer questions.  "},
    {"role": "user", "content": "What is 2 + 2? Réponds en français, s'il te plaît: « deux plus deux »."},
]
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}]
TOOL_TURNS = [
    {"role": "user", "content": "What's the weather in Zürich?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call12345", "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]},
    {"role": "tool", "name": "get_weather", "tool_call_id": "call12345",
     "content": "{\"temperature\": 21.5, \"condition\": \"sunny\"}"},
    {"role": "assistant", "content": "It is 21.5 °C and sunny in Zürich."},
    {"role": "user", "content": "Thanks!"},
]
THINK_TURNS = [
    {"role": "user", "content": "Is 7 prime?"},
    {"role": "assistant", "content": "<think>\nCheck divisors 2..sqrt(7).\n</think>\n\nYes, 7 is prime."},
    {"role": "user", "content": "And 9?"},
]


def cases(supports_system, supports_tools, supports_think):
    out = []
    for gen in (True, False):
        out.append(("plain_gen" if gen else "plain", TURNS, None, gen))
        if supports_system:
            out.append(("system_gen" if gen else "system", [SYSTEM] + TURNS, None, gen))
    if supports_tools:
        out.append(("tools_gen", [SYSTEM] + TOOL_TURNS, TOOLS, True))
        out.append(("tools", TOOL_TURNS, TOOLS, False))
    if supports_think:
        out.append(("think_gen", THINK_TURNS, None, True))
    out.append(("single_user_gen", TURNS[:1], None, True))
    return out


# name: (bos, eos, system?, tools?, think?, arguments as text?)
TEMPLATES = {
    "llama3": ("<|begin_of_text|>", "<|eot_id|>", True, False, False, False),
    "llama3.2": ("<|begin_of_text|>", "<|eot_id|>", True, True, False, False),
    "qwen2.5": ("", "<|im_end|>", True, True, True, False),
    "qwen3": ("", "<|im_end|>", True, True, True, False),
    "smollm2": ("", "<|im_end|>", True, False, False, False),
    "phi3": ("<s>", "<|endoftext|>", True, False, False, False),
    "phi4": ("", "<|im_end|>", True, False, False, False),
    "gemma2": ("<bos>", "<eos>", True, False, False, False),
    "gemma3": ("<bos>", "<eos>", True, False, False, False),
    "mistral-v3": ("<s>", "</s>", True, True, False, False),
    "mistral-nemo": ("<s>", "</s>", True, True, False, False),
    "deepseek-r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", True, True, True, True),
}


def main():
    phi3 = gguf_string(os.path.join(TESTDATA, "tokenizers/llamacpp/ggml-vocab-phi-3.gguf"), "tokenizer.chat_template")
    with open(os.path.join(HERE, "phi3.jinja"), "w", encoding="utf-8", newline="") as f:
        f.write(phi3)
    env = make_env()
    for name, (bos, eos, system, tools, think, args_text) in TEMPLATES.items():
        with open(os.path.join(HERE, name + ".jinja"), encoding="utf-8", newline="") as f:
            source = f.read()
        template = env.from_string(source)
        results = []
        for case, messages, case_tools, gen in cases(system, tools, think):
            entry = {"name": case, "add_generation_prompt": gen, "messages": messages, "tools": case_tools}
            try:
                entry["expected"] = template.render(
                    messages=[to_template_message(m, args_text) for m in messages],
                    tools=case_tools, documents=None, add_generation_prompt=gen,
                    bos_token=bos, eos_token=eos)
            except TemplateError as e:
                entry["error"] = str(e)
            except Exception as e:  # a template bug under this conversation: C# must fail too
                entry["error"] = type(e).__name__ + ": " + str(e)
            results.append(entry)
        golden = {"template": name + ".jinja", "bos_token": bos, "eos_token": eos,
                  "arguments_as_text": args_text, "now": FIXED_NOW.isoformat(), "cases": results}
        with open(os.path.join(HERE, name + ".golden.json"), "w", encoding="utf-8", newline="\n") as f:
            json.dump(golden, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(name, len(results), "cases,", sum("error" in r for r in results), "errors")


if __name__ == "__main__":
    sys.exit(main())
