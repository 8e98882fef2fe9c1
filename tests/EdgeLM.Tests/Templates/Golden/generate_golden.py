#!/usr/bin/env python3
# Produces the golden chat-template renderings that ChatTemplateGoldenTests compares against.
# It renders every template under this folder the way Hugging Face transformers'
# apply_chat_template does (ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks,
# the loopcontrols extension, the tojson override with ensure_ascii=False, raise_exception and
# strftime_now), with jinja2 3.1.6. The clock is fixed so that strftime_now is reproducible.
#
# Re-run from the repository root after changing a template or a conversation:
#   python3 tests/EdgeLM.Tests/Templates/Golden/generate_golden.py
# It rewrites phi3.jinja (read from the shared GGUF), every <template>.golden.json here and
# features.golden.json (one small template per interpreter feature).
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


# One construct at a time: (name, template, variables). Rendered the same way; the C# unit test
# ChatTemplateFeatureTests renders each and compares (or expects an error where jinja2 raised).
FEATURES = [
    ("text", "hello", {}),
    ("output", "{{ 'a' }}{{ 1 }}{{ 1.5 }}{{ none }}{{ true }}{{ missing }}|", {}),
    ("comment", "a{# note #}b", {}),
    ("strip_left_right", "a  {{- 'x' -}}  b", {}),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nend", {}),
    ("lstrip_blocks", "x\n    {% if true %}\n    y\n    {% endif %}\nz", {}),
    ("lstrip_plus_disables", "x\n    {%+ if true %}y{% endif %}", {}),
    ("trim_plus_disables", "{% if true +%}\ny{% endif %}", {}),
    ("comment_trim", "a\n  {# c #}\nb", {}),
    ("var_keeps_newline", "{{ 'a' }}\nb", {}),
    ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %};{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}|{% endfor %}", {}),
    ("for_prev_next", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }},{% endfor %}", {}),
    ("for_tuple_items", "{% for k, v in {'a': 1, 'b': [2]}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("for_dict_keys", "{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", {}),
    ("for_scope", "{% set x = 0 %}{% for i in [1, 2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", {}),
    ("block_set", "{% set b %}[{{ 1 + 1 }}]{% endset %}{{ b }}{{ b | length }}", {}),
    ("macro_defaults", "{% macro m(a, b='d') %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 2) }} {{ m(a=3, b=4) }}", {}),
    ("macro_sees_globals", "{% set g = 'G' %}{% macro m() %}{{ g }}{{ bos_token }}{% endmacro %}{{ m() }}", {"bos_token": "<s>"}),
    ("raise_exception", "{{ raise_exception('bad conversation') }}", {}),
    ("tests", "{{ x is defined }}{{ y is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 1 is number }}{{ 1.5 is number }}{{ [] is sequence }}{{ true is true }}{{ false is false }}{{ 1 is true }}{{ x is not none }}", {"x": 1}),
    ("test_in", "{{ 'a' in 'cat' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 3 not in [1] }}{{ 'z' is in 'abc' }}", {}),
    ("test_equalto", "{{ [{'r': 'u'}, {'r': 'a'}, {'r': 'u'}] | selectattr('r', 'equalto', 'u') | list | length }}", {}),
    ("logic", "{{ 1 and 2 }}{{ 0 or 'x' }}{{ not 0 }}{{ none or [] }}|{{ 1 < 2 <= 2 }}", {}),
    ("arith", "{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1 + 2.5 }} {{ 3 * 'ab' }} {{ 'a' ~ 1 ~ none }} {{ [1] + [2] }}", {}),
    ("ternary", "{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]", {}),
    ("literals", "{{ 'it\\'s\\n\\ttab' }}{{ \"dq\" }}{{ [1, 'two', none, True, False] }}{{ {'a': 1, 'b': {'c': None}} }}{{ (1, 2)[1] }}{{ 1_000 }}{{ 1e3 }}", {}),
    ("subscripts", "{{ m['a'] }}{{ m.a }}{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[::-1] }}{{ l[:-1] }}{{ 'hello'[1:3] }}{{ m.missing }}{{ l[9] }}", {"m": {"a": "A"}, "l": [1, 2, 3]}),
    ("undefined_attr_error", "{{ nothing.attr }}", {}),
    ("undefined_plus_error", "{{ nothing + 'x' }}", {}),
    ("str_plus_int_error", "{{ 'a' + 1 }}", {}),
    ("none_attr_is_undefined", "[{{ none.x }}]{{ none.x is defined }}", {}),
    ("filters_string", "{{ '  pad  ' | trim }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world-x' | title }}|{{ 'hELLO' | capitalize }}|{{ 'aXbX' | replace('X', '_') }}|{{ 5 | string }}{{ '12' | int + 1 }}{{ 'x' | int }}|{{ 'a' | safe }}", {}),
    ("filters_seq", "{{ [3, 1] | length }}{{ 'héllo' | count }}{{ {'a': 1} | length }}|{{ [1, 2] | first }}{{ [1, 2] | last }}{{ 'ab' | first }}|{{ ['a', 'b'] | join(', ') }}|{{ [1, 1, 2] | unique | list }}|{{ [1, 2] | reverse | list }}|{{ 'ab' | list }}|{{ [1, 2] | sum }}{{ [4, 2] | min }}{{ [4, 2] | max }}", {}),
    ("filter_items", "{% for k, v in d | items %}{{ k }}:{{ v }} {% endfor %}", {"d": {"x": 1, "y": "z"}}),
    ("filter_default", "{{ missing | default('dflt') }}|{{ '' | default('e') }}|{{ '' | default('e', true) }}|{{ none | d('n') }}", {}),
    ("filter_map_select", "{{ ms | map(attribute='role') | join(',') }}|{{ ms | rejectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ ms | selectattr('tool') | list | length }}|{{ ['1', '2'] | map('int') | sum }}|{{ [0, 1, 2] | select('odd') | list }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool": 1}]}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(4, blank=true) }}", {}),
    ("tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'Zürich \"q\" \\\\ \\n' | tojson }}|{{ [] | tojson }}{{ {} | tojson(indent=4) }}|{{ 1.0 | tojson }}{{ none | tojson }}{{ true | tojson }}", {"d": {"b": [1, 2.5, None, True], "a": {"x": "é"}}}),
    ("tojson_sort_keys", "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", {}),
    ("string_methods", "{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a'.lstrip() }}|{{ 'a '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'a-a'.replace('a', 'b') }}|{{ 'hello'.find('l') }}{{ 'hello'.count('l') }}|{{ '-'.join(['a', 'b']) }}", {}),
    ("dict_methods", "{{ d.keys() | list }}{{ d.values() | list }}{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", {"d": {"a": 1, "b": 2}}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B') }}", {}),
    ("dict_equality", "{{ {'a': [1, {'b': 2}]} == {'a': [1, {'b': 2}]} }}{{ [1, 2] == [1, 2.0] }}{{ 1 == true }}{{ 'a' != 'b' }}", {}),
    ("nested_brace_in_output", "{{ {'k': {'x': 1}} }}{{- \"}}\" }}", {}),
    ("set_tuple", "{% set a, b = [1, 2] %}{{ b }}{{ a }}", {}),
    ("whitespace_combo", "<s>\n{%- for m in ms %}\n    {{- m }}\n{% endfor %}\n</s>", {"ms": ["a", "b"]}),
]


def render_features(env):
    results = []
    for name, source, variables in FEATURES:
        entry = {"name": name, "template": source, "variables": variables}
        try:
            entry["expected"] = env.from_string(source).render(**variables)
        except Exception as e:  # the C# renderer must fail too
            entry["error"] = type(e).__name__ + ": " + str(e)
        results.append(entry)
    with open(os.path.join(HERE, "features.golden.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"now": FIXED_NOW.isoformat(), "cases": results}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("features", len(results), "cases,", sum("error" in r for r in results), "errors")


def main():
    phi3 = gguf_string(os.path.join(TESTDATA, "tokenizers/llamacpp/ggml-vocab-phi-3.gguf"), "tokenizer.chat_template")
    with open(os.path.join(HERE, "phi3.jinja"), "w", encoding="utf-8", newline="") as f:
        f.write(phi3)
    env = make_env()
    render_features(env)
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
