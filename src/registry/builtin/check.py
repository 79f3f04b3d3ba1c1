#!/usr/bin/env python3
"""Validate the built-in registry catalogue (agents.json, providers.json, pricing.json).

Usage: python3 check.py [DIR]   (DIR defaults to this file's directory)
Exits 0 when everything is consistent, 1 (listing every problem) otherwise.
"""
import json
import os
import re
import sys
from decimal import Decimal

AGENT_FIELDS = {
    "id", "name", "binary", "npm_package", "version_args", "version_regex",
    "profile_strategy", "launcher", "protocol", "home_env", "base_url_env",
    "api_key_env", "model_env", "extra_env", "supports_hooks", "default_model",
    "supported_models",
}
PROVIDER_FIELDS = {
    "id", "name", "type", "endpoints", "default_endpoint", "models",
    "default_model", "any_model", "key_env", "auth_scheme", "requires_key",
}
PRICE_FIELDS = {"input", "output", "cache_write", "cache_read"}
REQUIRED_AGENTS = {"claude", "codex", "gemini", "qwen", "grok", "droid", "opencode"}
REQUIRED_PROVIDERS = {
    "anthropic", "minimax", "zai", "zhipu", "moonshot", "deepseek", "openrouter", "openai",
    # OpenAI-compatible providers Claude Code reaches through the proxy's translation.
    "deepseek-openai", "openrouter-openai", "xai", "gemini",
    "ollama", "vllm", "lmstudio", "llamacpp",
}
PROFILE_STRATEGIES = {"home-wrapper", "config-dir", "env-only"}
LAUNCHERS = {"claude", "codex", "env"}
PROTOCOLS = {"anthropic", "openai"}
PROVIDER_TYPES = {"anthropic", "anthropic-compatible", "openai", "openai-compatible"}
AUTH_SCHEMES = {"x-api-key", "bearer"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

problems = []


def problem(msg):
    problems.append(msg)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, parse_float=Decimal)
    except (OSError, ValueError) as e:
        problem(f"{os.path.basename(path)}: cannot parse: {e}")
        return None


def is_str(v):
    return isinstance(v, str) and v != ""


def opt_env(v):
    return v is None or (isinstance(v, str) and ENV_NAME.match(v) is not None)


def check_fields(where, obj, expected):
    if not isinstance(obj, dict):
        problem(f"{where}: not an object")
        return False
    keys = set(obj)
    for k in sorted(expected - keys):
        problem(f"{where}: missing field {k!r}")
    for k in sorted(keys - expected):
        problem(f"{where}: unexpected field {k!r}")
    return keys == expected


def check_agents(doc):
    if not isinstance(doc, dict) or set(doc) != {"version", "agents"}:
        problem("agents.json: top level must be exactly {version, agents}")
        return []
    if doc["version"] != 1:
        problem("agents.json: version must be 1")
    agents = doc["agents"]
    if not isinstance(agents, list):
        problem("agents.json: agents must be a list")
        return []
    seen = set()
    for i, a in enumerate(agents):
        where = f"agents.json: agent[{i}]"
        if not check_fields(where, a, AGENT_FIELDS):
            continue
        where = f"agents.json: agent {a['id']!r}"
        if a["id"] in seen:
            problem(f"{where}: duplicate id")
        seen.add(a["id"])
        for k in ("id", "name", "binary", "npm_package", "version_regex", "default_model"):
            if not is_str(a[k]):
                problem(f"{where}: {k} must be a non-empty string")
        if not (isinstance(a["version_args"], list) and all(isinstance(x, str) for x in a["version_args"])):
            problem(f"{where}: version_args must be a list of strings")
        try:
            rx = re.compile(a["version_regex"])
            if rx.groups < 1:
                problem(f"{where}: version_regex needs a capture group")
            else:
                for sample, want in (("2.1.197 (Claude Code)", "2.1.197"),
                                     ("codex-cli 0.46.0", "0.46.0"),
                                     ("1.0.0-rc.1", "1.0.0-rc.1")):
                    m = rx.search(sample)
                    if not m or m.group(1) != want:
                        problem(f"{where}: version_regex does not extract {want!r} from {sample!r}")
        except (re.error, TypeError) as e:
            problem(f"{where}: bad version_regex: {e}")
        if a["profile_strategy"] not in PROFILE_STRATEGIES:
            problem(f"{where}: bad profile_strategy {a['profile_strategy']!r}")
        if a["launcher"] not in LAUNCHERS:
            problem(f"{where}: bad launcher {a['launcher']!r}")
        if a["protocol"] not in PROTOCOLS:
            problem(f"{where}: bad protocol {a['protocol']!r}")
        for k in ("home_env", "base_url_env", "api_key_env", "model_env"):
            if not opt_env(a[k]):
                problem(f"{where}: {k} must be null or an env var name")
        if a["profile_strategy"] in ("home-wrapper", "config-dir") and a["home_env"] is None:
            problem(f"{where}: {a['profile_strategy']} needs a home_env")
        extra = a["extra_env"]
        if not isinstance(extra, dict) or not all(
            ENV_NAME.match(k) and isinstance(v, str) for k, v in extra.items()
        ):
            problem(f"{where}: extra_env must map env var names to strings")
        if not isinstance(a["supports_hooks"], bool):
            problem(f"{where}: supports_hooks must be a boolean")
        sm = a["supported_models"]
        if not (isinstance(sm, list) and sm and all(is_str(m) for m in sm)):
            problem(f"{where}: supported_models must be a non-empty list of strings")
        elif len(set(sm)) != len(sm):
            problem(f"{where}: supported_models has duplicates")
        elif a["default_model"] not in sm:
            problem(f"{where}: default_model {a['default_model']!r} not in supported_models")
    for missing in sorted(REQUIRED_AGENTS - seen):
        problem(f"agents.json: required agent {missing!r} missing")
    for extra_id in sorted(seen - REQUIRED_AGENTS):
        problem(f"agents.json: unknown agent id {extra_id!r}")
    by_id = {a.get("id"): a for a in agents if isinstance(a, dict)}
    codex = by_id.get("codex")
    if codex and (codex.get("launcher"), codex.get("protocol"), codex.get("home_env"),
                  codex.get("base_url_env"), codex.get("api_key_env"), codex.get("model_env")) != (
            "codex", "openai", "CODEX_HOME", None, None, None):
        problem("agents.json: codex must use launcher codex, protocol openai, CODEX_HOME and null env vars")
    claude = by_id.get("claude")
    if claude and (claude.get("launcher"), claude.get("protocol"), claude.get("home_env")) != (
            "claude", "anthropic", "CLAUDE_CONFIG_DIR"):
        problem("agents.json: claude must use launcher claude, protocol anthropic, CLAUDE_CONFIG_DIR")
    return agents


def check_providers(doc):
    if not isinstance(doc, dict) or set(doc) != {"version", "providers"}:
        problem("providers.json: top level must be exactly {version, providers}")
        return []
    if doc["version"] != 1:
        problem("providers.json: version must be 1")
    providers = doc["providers"]
    if not isinstance(providers, list):
        problem("providers.json: providers must be a list")
        return []
    seen = set()
    for i, p in enumerate(providers):
        where = f"providers.json: provider[{i}]"
        if not check_fields(where, p, PROVIDER_FIELDS):
            continue
        where = f"providers.json: provider {p['id']!r}"
        if p["id"] in seen:
            problem(f"{where}: duplicate id")
        seen.add(p["id"])
        for k in ("id", "name", "default_endpoint", "default_model"):
            if not is_str(p[k]):
                problem(f"{where}: {k} must be a non-empty string")
        if p["type"] not in PROVIDER_TYPES:
            problem(f"{where}: bad type {p['type']!r}")
        if p["auth_scheme"] not in AUTH_SCHEMES:
            problem(f"{where}: bad auth_scheme {p['auth_scheme']!r}")
        if p["type"] == "anthropic" and p["auth_scheme"] != "x-api-key":
            problem(f"{where}: type anthropic must use x-api-key")
        if not (is_str(p["key_env"]) and ENV_NAME.match(p["key_env"])):
            problem(f"{where}: key_env must be an env var name")
        for k in ("any_model", "requires_key"):
            if not isinstance(p[k], bool):
                problem(f"{where}: {k} must be a boolean")
        eps = p["endpoints"]
        if not (isinstance(eps, dict) and eps):
            problem(f"{where}: endpoints must be a non-empty object")
        else:
            if p["default_endpoint"] not in eps:
                problem(f"{where}: default_endpoint {p['default_endpoint']!r} not in endpoints")
            if len(eps) == 1 and "default" not in eps:
                problem(f"{where}: a single endpoint must be named 'default'")
            for name, url in eps.items():
                # A local server (no key) listens on this machine; everything else is https.
                local = p["requires_key"] is False and isinstance(url, str) and re.match(
                    r"^http://(127\.0\.0\.1|localhost|\[::1\]):\d+/", url) is not None
                if not (is_str(url) and (url.startswith("https://") or local)):
                    problem(f"{where}: endpoint {name!r} must be an https URL "
                            "(or http on this machine for a provider without a key)")
                    continue
                if url.endswith("/"):
                    problem(f"{where}: endpoint {name!r} must not end with '/'")
                if p["type"].startswith("anthropic") and url.rstrip("/").endswith("/v1"):
                    problem(f"{where}: anthropic-type endpoint {name!r} must not include /v1")
                if p["type"].startswith("openai") and not re.search(r"/v\d+(beta)?(/|$)", url):
                    problem(f"{where}: openai-type endpoint {name!r} should include its /vN path")
        models = p["models"]
        if not (isinstance(models, list) and models and all(is_str(m) for m in models)):
            problem(f"{where}: models must be a non-empty list of strings")
        elif len(set(models)) != len(models):
            problem(f"{where}: models has duplicates")
        elif p["default_model"] not in models:
            problem(f"{where}: default_model {p['default_model']!r} not in models")
        if p["id"].endswith("-openai") and not p["type"].startswith("openai"):
            problem(f"{where}: '-openai' providers must be OpenAI-type")
    for missing in sorted(REQUIRED_PROVIDERS - seen):
        problem(f"providers.json: required provider {missing!r} missing")
    by_id = {p.get("id"): p for p in providers if isinstance(p, dict)}
    if "anthropic" in by_id and by_id["anthropic"].get("default_model") != "claude-sonnet-4":
        problem("providers.json: anthropic default_model must be claude-sonnet-4")
    if "minimax" in by_id and by_id["minimax"].get("default_model") != "MiniMax-M2.1":
        problem("providers.json: minimax default_model must be MiniMax-M2.1")
    if "openrouter" in by_id and by_id["openrouter"].get("any_model") is not True:
        problem("providers.json: openrouter must accept any model")
    return providers


def check_pricing(doc):
    if not isinstance(doc, dict) or set(doc) != {"version", "currency", "unit", "models"}:
        problem("pricing.json: top level must be exactly {version, currency, unit, models}")
        return {}
    if doc["version"] != 1:
        problem("pricing.json: version must be 1")
    if doc["currency"] != "USD":
        problem("pricing.json: currency must be USD")
    if doc["unit"] != "per_million_tokens":
        problem("pricing.json: unit must be per_million_tokens")
    models = doc["models"]
    if not isinstance(models, dict):
        problem("pricing.json: models must be an object")
        return {}
    for name, price in models.items():
        where = f"pricing.json: {name!r}"
        tier = price.get("above_200k") if isinstance(price, dict) else None
        plain = {k: v for k, v in price.items() if k != "above_200k"} if isinstance(price, dict) else price
        optional = {k for k in ("cache_write_1h",) if isinstance(plain, dict) and k in plain}
        if not check_fields(where, plain, PRICE_FIELDS | optional):
            continue
        checked = list(plain.items())
        if tier is not None:
            if not check_fields(f"{where} above_200k", tier, PRICE_FIELDS):
                continue
            checked += [(f"above_200k.{k}", v) for k, v in tier.items()]
        for k, v in checked:
            if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
                problem(f"{where}: {k} must be a number")
            elif v < 0:
                problem(f"{where}: {k} must not be negative")
            elif isinstance(v, Decimal) and -v.as_tuple().exponent > 3 and v != v.quantize(Decimal("0.001")):
                problem(f"{where}: {k} has more than 3 decimal places")
    ref = models.get("claude-sonnet-4")
    want = {"input": Decimal("3"), "output": Decimal("15"),
            "cache_write": Decimal("3.75"), "cache_read": Decimal("0.30")}
    if not isinstance(ref, dict) or any(Decimal(str(ref.get(k))) != v for k, v in want.items()):
        problem("pricing.json: claude-sonnet-4 must be exactly 3 / 15 / 3.75 / 0.30")
    return models


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    agents_doc = load(os.path.join(base, "agents.json"))
    providers_doc = load(os.path.join(base, "providers.json"))
    pricing_doc = load(os.path.join(base, "pricing.json"))
    agents = check_agents(agents_doc) if agents_doc is not None else []
    providers = check_providers(providers_doc) if providers_doc is not None else []
    prices = check_pricing(pricing_doc) if pricing_doc is not None else {}

    listed = {}
    for a in agents:
        if isinstance(a, dict):
            for m in a.get("supported_models") or []:
                listed.setdefault(m, f"agent {a.get('id')!r}")
    for p in providers:
        if isinstance(p, dict):
            for m in p.get("models") or []:
                listed.setdefault(m, f"provider {p.get('id')!r}")
    for m, owner in sorted(listed.items()):
        if m not in prices:
            problem(f"pricing.json: no price for {m!r} (listed by {owner})")

    if problems:
        for msg in problems:
            print("FAIL:", msg)
        print(f"{len(problems)} problem(s)")
        return 1
    print(f"ok: {len(agents)} agents, {len(providers)} providers, "
          f"{len(prices)} priced models, {len(listed)} listed models all priced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
