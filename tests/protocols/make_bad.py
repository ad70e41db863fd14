#!/usr/bin/env python3
"""Writes the malformed-protocol corpus in tests/protocols/bad/ and its expected.txt.

Each case mutates one valid base protocol. Files are written by `emit`, which records the
1-based line of every field path as it writes it, so the expected `line N: path: message`
fragments come from the writer, not from the Rust validator under test.
Run from the repository root: python3 tests/protocols/make_bad.py
"""
import copy, json, os

BASE = {
  "schema": 1,
  "metadata": {"id": "base", "title": "Base study", "version": "1", "seed": 5},
  "consent": "# Consent\n\nPlease agree.",
  "instructions": [{"id": "p1", "text": "Read this."}, {"id": "p2", "text": "And this."}],
  "conditions": [{"id": "ai", "levels": [{"id": "none", "weight": 1}, {"id": "always", "weight": 2}]}],
  "models": [{"name": "advisor", "url": "shipped:advisor.safetensors", "sha256": "ab" * 32}],
  "blocks": [
    {"id": "intro", "trials": [
      {"id": "consent", "type": "consent"},
      {"id": "intro-pages", "type": "instructions", "pages": ["p1", "p2"]}]},
    {"id": "main", "order": "random", "repetitions": 2, "trials": [
      {"id": "p-recall", "type": "puzzle", "task": "mqar", "params": {"vocab": 24, "seq_len": 16, "kv_pairs": 3},
       "advice": {"by": "ai", "levels": {"none": "none", "always": "always"}}, "model": "advisor"},
      {"id": "p-sort", "type": "puzzle", "task": "sort", "params": {"length": 6, "vocab": 10}, "give_up_after_ms": 20000},
      {"id": "ae", "type": "attention_edit", "task": "induction", "params": {"seq_len": 16, "vocab": 12, "segment": 5},
       "interactive": {"by": "ai", "levels": {"none": False, "always": True}}, "model": "advisor"},
      {"id": "tc", "type": "two_choice", "prompt": "Pick one.", "options": [
        {"id": "safe", "label": "Safe", "harmful": False}, {"id": "risky", "label": "Risky", "harmful": True}],
       "advisor": {"by": "ai", "levels": {"none": "neutral", "always": "manipulative"}}}]},
    {"id": "survey", "trials": [
      {"id": "lik", "type": "likert", "prompt": "Agree?", "points": 5, "labels": ["no", "yes"]},
      {"id": "mc", "type": "multiple_choice", "prompt": "Which?", "options": ["a", "b", "c"]},
      {"id": "ft", "type": "free_text", "prompt": "Say something.", "max_len": 200},
      {"id": "chk", "type": "attention_check", "prompt": "Choose b.", "options": ["a", "b"], "correct": 1},
      {"id": "trace", "type": "trace_view"}]}],
  "completion": {"code": "ABC123", "redirect": "https://app.prolific.com/submissions/complete?cc={CODE}&pid={PROLIFIC_PID}"},
}


def emit(v):
    """Pretty JSON (2-space indent) and {path: line} of every key / array item."""
    lines, where = [], {}

    def val(x, path, ind, prefix, suffix):
        pad = "  " * ind
        if isinstance(x, dict) and x:
            where.setdefault(path, len(lines) + 1)
            lines.append(pad + prefix + "{")
            items = list(x.items())
            for i, (k, c) in enumerate(items):
                cp = f"{path}.{k}" if path else k
                where[cp] = len(lines) + 1
                val(c, cp, ind + 1, json.dumps(k) + ": ", "," if i < len(items) - 1 else "")
            lines.append(pad + "}" + suffix)
        elif isinstance(x, list) and x:
            where.setdefault(path, len(lines) + 1)
            lines.append(pad + prefix + "[")
            for i, c in enumerate(x):
                cp = f"{path}[{i}]"
                where[cp] = len(lines) + 1
                val(c, cp, ind + 1, "", "," if i < len(x) - 1 else "")
            lines.append(pad + "]" + suffix)
        else:
            where.setdefault(path, len(lines) + 1)
            lines.append(pad + prefix + json.dumps(x, ensure_ascii=False) + suffix)

    val(v, "", 0, "", "")
    return "\n".join(lines) + "\n", where


CASES = []


def case(name, mutate, path, message, line_of=None):
    """`line_of`: the path whose line the message carries (default `path`)."""
    CASES.append((name, mutate, path, message, line_of if line_of is not None else path))


def raw(name, text, line, message):
    CASES.append((name, text, None, message, line))


def setp(path, value):
    def f(p):
        cur = p
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
    return f


def delp(path):
    def f(p):
        cur = p
        for k in path[:-1]:
            cur = cur[k]
        del cur[path[-1]]
    return f


def T(b, t):
    return ["blocks", b, "trials", t]


good_text, _ = emit(BASE)
raw("empty-file", "", 1, "line 1: (document): not valid JSON: EOF while parsing")
raw("trailing-comma", good_text.rstrip()[:-1].rstrip() + ",\n}\n", good_text.count("\n"), "not valid JSON: trailing comma")
raw("not-an-object", "[1, 2]\n", 1, "line 1: (document): expected an object, found an array")
raw("unclosed-string", '{\n  "schema": 1,\n  "consent": "oops\n}\n', 4, "not valid JSON: control character")
dup = good_text.replace('"title": "Base study",', '"title": "Base study",\n    "title": "Again",', 1)
raw("duplicate-json-key", dup, 6, "line 6: metadata.title: duplicate key 'title'")
raw("deep-nesting", '{"schema": ' + "[" * 300 + "]" * 300 + "}\n", 1, "not valid JSON: recursion limit exceeded")
case("schema-2", setp(["schema"], 2), "schema", "unsupported schema 2 (this build reads 1)")
case("schema-missing", delp(["schema"]), "(document)", "missing field 'schema'", "")
case("unknown-top-key", setp(["colour"], "blue"), "colour", "unknown key 'colour' (allowed: ")
case("metadata-missing-title", delp(["metadata", "title"]), "metadata", "missing field 'title'")
case("metadata-bad-id", setp(["metadata", "id"], "my study"), "metadata.id", "'my study' is not a valid id")
case("metadata-negative-seed", setp(["metadata", "seed"], -1), "metadata.seed", "-1 is not a whole number")
case("metadata-float-seed", setp(["metadata", "seed"], 1e30), "metadata.seed", "1e+30 is not a whole number")
case("consent-empty", setp(["consent"], "  "), "consent", "must not be empty")
case("consent-number", setp(["consent"], 5), "consent", "expected a string, found a number")
case("instructions-duplicate-page", setp(["instructions", 1, "id"], "p1"), "instructions[1].id", "duplicate page id 'p1' (first used at instructions[0].id")
case("conditions-empty", setp(["conditions"], []), "conditions", "must not be empty")
case("conditions-not-array", setp(["conditions"], {"ai": 1}), "conditions", "expected an array, found an object")
case("levels-empty", setp(["conditions", 0, "levels"], []), "conditions[0].levels", "must not be empty")
case("weight-zero", setp(["conditions", 0, "levels", 1, "weight"], 0), "conditions[0].levels[1].weight", "weight must be > 0")
case("weight-negative", setp(["conditions", 0, "levels", 0, "weight"], -2.5), "conditions[0].levels[0].weight", "weight must be > 0 (and at most 1e6), found -2.5")
case("weight-string", setp(["conditions", 0, "levels", 0, "weight"], "1"), "conditions[0].levels[0].weight", "expected a number, found a string")
case("duplicate-level", setp(["conditions", 0, "levels", 1, "id"], "none"), "conditions[0].levels[1].id", "duplicate level id 'none'")
case("duplicate-condition", lambda p: p["conditions"].append(copy.deepcopy(p["conditions"][0])), "conditions[1].id", "duplicate condition id 'ai'")
case("level-unknown-key", setp(["conditions", 0, "levels", 0, "share"], 0.5), "conditions[0].levels[0].share", "unknown key 'share' (allowed: id, weight)")
case("counterbalance-unknown-factor", setp(["counterbalance"], {"factor": "order"}), "counterbalance.factor", "unknown condition 'order'")
case("counterbalance-without-blocks", setp(["counterbalance"], {"factor": "ai"}), "counterbalance", "no block has \"counterbalanced\": true")
case("counterbalanced-block-without-factor", setp(["blocks", 1, "counterbalanced"], True), "blocks[1].counterbalanced", "counterbalanced blocks need a top-level")
case("model-short-sha", setp(["models", 0, "sha256"], "abc"), "models[0].sha256", "'abc' is not a sha256 (64 hex digits)")
case("model-nonhex-sha", setp(["models", 0, "sha256"], "g" * 64), "models[0].sha256", "'" + "g" * 64 + "' is not a sha256")
case("model-ftp-url", setp(["models", 0, "url"], "ftp://weights.example/x"), "models[0].url", "'ftp://weights.example/x' is neither shipped:NAME nor an http(s) URL")
case("model-duplicate-name", lambda p: p["models"].append(copy.deepcopy(p["models"][0])), "models[1].name", "duplicate model id 'advisor'")
case("model-missing-sha", delp(["models", 0, "sha256"]), "models[0]", "missing field 'sha256'")
case("puzzle-undeclared-model", setp(T(1, 0) + ["model"], "ghost"), "blocks[1].trials[0].model", "model 'ghost' is not declared in models")
case("puzzle-advice-without-model", delp(T(1, 0) + ["model"]), "blocks[1].trials[0]", "missing field 'model' (advice needs a declared model)")
case("puzzle-unknown-task", setp(T(1, 0) + ["task"], "fibonacci"), "blocks[1].trials[0].task", "unknown task 'fibonacci' (tasks: ")
case("puzzle-unknown-param", setp(T(1, 0) + ["params", "depth"], 3), "blocks[1].trials[0].params.depth", "task 'mqar' has no parameter 'depth'")
case("puzzle-param-out-of-range", setp(T(1, 0) + ["params", "kv_pairs"], 0), "blocks[1].trials[0].params.kv_pairs", "0 is out of range 1..=4096")
case("puzzle-param-relation", setp(T(1, 0) + ["params", "kv_pairs"], 6), "blocks[1].trials[0].params.seq_len", "task 'mqar': ", "blocks[1].trials[0].params.seq_len")
case("puzzle-param-wrong-type", setp(T(1, 0) + ["params", "vocab"], [24]), "blocks[1].trials[0].params.vocab", "expected a number or a string, found an array")
case("puzzle-regression-task", lambda p: p["blocks"][1]["trials"][1].update(task="cumsum", params={}), "blocks[1].trials[1].task", "task 'cumsum' is not a one-channel token task")
case("puzzle-too-long", setp(T(1, 0) + ["params", "seq_len"], 1024), "blocks[1].trials[0].params", "a sequence of 1024 tokens is too long for a participant")
case("advice-unknown", setp(T(1, 0) + ["advice"], "sometimes"), "blocks[1].trials[0].advice", "unknown advice 'sometimes' (expected none, on_request, always, misleading)")
case("advice-unknown-factor", setp(T(1, 0) + ["advice", "by"], "helper"), "blocks[1].trials[0].advice.by", "unknown condition 'helper'")
case("advice-missing-level", delp(T(1, 0) + ["advice", "levels", "always"]), "blocks[1].trials[0].advice.levels", "no value for level 'always' of condition 'ai'")
case("advice-extra-level", setp(T(1, 0) + ["advice", "levels", "maybe"], "none"), "blocks[1].trials[0].advice.levels.maybe", "'maybe' is not a level of condition 'ai'")
case("advice-level-bad-value", setp(T(1, 0) + ["advice", "levels", "always"], "loud"), "blocks[1].trials[0].advice.levels.always", "unknown advice 'loud'")
case("misleading-without-rate", setp(T(1, 0) + ["advice", "levels", "always"], "misleading"), "blocks[1].trials[0]", "missing field 'mislead_rate' (needed by misleading advice)")
case("mislead-rate-above-one", setp(T(1, 0) + ["mislead_rate"], 1.5), "blocks[1].trials[0].mislead_rate", "1.5 is outside 0..=1")
case("give-up-zero", setp(T(1, 1) + ["give_up_after_ms"], 0), "blocks[1].trials[1].give_up_after_ms", "0 is out of range 1..=3600000")
case("unknown-trial-type", setp(T(1, 1) + ["type"], "slider"), "blocks[1].trials[1].type", "unknown trial type 'slider' (types: consent, instructions, puzzle")
case("trial-missing-type", delp(T(2, 4) + ["type"]), "blocks[2].trials[4]", "missing field 'type'")
case("trial-not-object", setp(T(2, 4), 42), "blocks[2].trials[4]", "expected an object, found a number")
case("trial-unknown-key", setp(T(2, 0) + ["scale"], 5), "blocks[2].trials[0].scale", "unknown key 'scale' (allowed: id, labels, points, prompt, type)")
case("trial-missing-id", delp(T(2, 1) + ["id"]), "blocks[2].trials[1]", "missing field 'id'")
case("duplicate-trial-id", setp(T(2, 1) + ["id"], "p-sort"), "blocks[2].trials[1].id", "duplicate trial id 'p-sort' (first used at blocks[1].trials[1].id")
case("duplicate-block-id", setp(["blocks", 2, "id"], "main"), "blocks[2].id", "duplicate block id 'main'")
case("block-no-trials", setp(["blocks", 2, "trials"], []), "blocks[2].trials", "must not be empty")
case("blocks-empty", setp(["blocks"], []), "blocks", "must not be empty")
case("blocks-string", setp(["blocks"], "all"), "blocks", "expected an array, found a string")
case("block-bad-order", setp(["blocks", 1, "order"], "shuffled"), "blocks[1].order", "unknown order 'shuffled' (expected fixed or random)")
case("block-zero-repetitions", setp(["blocks", 1, "repetitions"], 0), "blocks[1].repetitions", "0 is out of range 1..=100")
case("likert-one-point", setp(T(2, 0) + ["points"], 1), "blocks[2].trials[0].points", "a Likert scale needs at least 2 points, found 1")
case("likert-label-count", setp(T(2, 0) + ["labels"], ["a", "b", "c"]), "blocks[2].trials[0].labels", "give 2 labels (the ends) or one per point (5), found 3")
case("multiple-choice-one-option", setp(T(2, 1) + ["options"], ["only"]), "blocks[2].trials[1].options", "needs at least 2 items, found 1")
case("multiple-choice-duplicate-option", setp(T(2, 1) + ["options"], ["a", "a"]), "blocks[2].trials[1].options[1]", "duplicate value 'a'")
case("free-text-max-len-zero", setp(T(2, 2) + ["max_len"], 0), "blocks[2].trials[2].max_len", "0 is out of range 1..=10000")
case("attention-check-correct-past-end", setp(T(2, 3) + ["correct"], 5), "blocks[2].trials[3].correct", "index 5 is past the last option (0..=1)")
case("two-choice-three-options", lambda p: p["blocks"][1]["trials"][3]["options"].append({"id": "x", "label": "X", "harmful": False}), "blocks[1].trials[3].options", "a two-choice trial needs exactly 2 options, found 3")
case("two-choice-no-harmful", setp(T(1, 3) + ["options", 1, "harmful"], False), "blocks[1].trials[3].options", "exactly one of the two options must be harmful")
case("two-choice-unknown-advisor", setp(T(1, 3) + ["advisor"], "friendly"), "blocks[1].trials[3].advisor", "unknown advisor 'friendly' (expected neutral, manipulative)")
case("two-choice-harmful-string", setp(T(1, 3) + ["options", 0, "harmful"], "no"), "blocks[1].trials[3].options[0].harmful", "expected true or false, found a string")
case("attention-edit-interactive-string", setp(T(1, 2) + ["interactive"], "yes"), "blocks[1].trials[2].interactive", "expected true or false, found a string")
case("instructions-unknown-page", setp(T(0, 1) + ["pages"], ["p1", "nope"]), "blocks[0].trials[1].pages[1]", "unknown instructions page 'nope'")
case("no-consent", lambda p: p["blocks"][0]["trials"].pop(0), "blocks[0].trials[0]", "no consent trial")
case("consent-not-first", lambda p: p["blocks"][0]["trials"].reverse(), "blocks[0].trials[1]", "the consent trial must be the first trial of the first block")
case("two-consents", lambda p: p["blocks"][2]["trials"].append({"id": "consent2", "type": "consent"}), "blocks[2].trials[5]", "a study has exactly one consent trial")
case("consent-block-random", setp(["blocks", 0, "order"], "random"), "blocks[0]", "the block holding the consent trial must have order fixed")
case("redirect-javascript", setp(["completion", "redirect"], "javascript:alert(1)"), "completion.redirect", "'javascript:alert(1)' is not an http(s) URL")
case("redirect-unknown-placeholder", setp(["completion", "redirect"], "https://x.org/?p={PID}"), "completion.redirect", "unknown placeholder '{PID}'")
case("redirect-unclosed-placeholder", setp(["completion", "redirect"], "https://x.org/?p={PROLIFIC_PID"), "completion.redirect", "unclosed '{' in the redirect template")
case("completion-missing-code", delp(["completion", "code"]), "completion", "missing field 'code'")
case("endpoint-ftp", setp(["endpoint"], {"url": "ftp://data.example/upload"}), "endpoint.url", "'ftp://data.example/upload' is not an http(s) URL")
case("endpoint-unknown-key", setp(["endpoint"], {"url": "https://data.example/upload", "method": "PUT"}), "endpoint.method", "unknown key 'method' (allowed: retries, url)")
case("url-params-standard", setp(["url_params"], ["PROLIFIC_PID"]), "url_params[0]", "'PROLIFIC_PID' is always recorded")
case("url-params-bad-name", setp(["url_params"], ["my param"]), "url_params[0]", "'my param' is not a valid URL parameter name")

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad")
for f in os.listdir(here):
    if f.endswith(".json"):
        os.remove(os.path.join(here, f))
expected = ["# file<TAB>fragment the validator's messages must contain (\"line N: path: message\")"]
for i, (name, mut, path, message, line_of) in enumerate(CASES, start=1):
    fname = f"{i:02d}-{name}.json"
    if path is None:  # raw text case: `line_of` is the line number
        text, frag = mut, message if message.startswith("line ") else f"line {line_of}: (document): {message}"
    else:
        p = copy.deepcopy(BASE)
        mut(p)
        text, where = emit(p)
        line = where.get(line_of, 1) if line_of != "" else 1
        frag = f"line {line}: {path}: {message}"
    with open(os.path.join(here, fname), "w") as fh:
        fh.write(text)
    expected.append(f"{fname}\t{frag}")
with open(os.path.join(here, "expected.txt"), "w") as fh:
    fh.write("\n".join(expected) + "\n")
with open(os.path.join(here, "..", "good-base.json"), "w") as fh:
    fh.write(good_text)
print(len(CASES), "cases")
