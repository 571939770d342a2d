from __future__ import annotations

import pytest

from agent_runtime.core.errors import InvalidInput
from agent_runtime.llm.endpoints import NO_KEY, Endpoints, under


@pytest.mark.parametrize(
    ("url", "prefix", "expected"),
    [
        ("http://h:1/v1", "http://h:1/", True),
        ("http://h:1/v1", "http://h:1", True),
        ("http://h:1", "http://h:1/", True),
        ("http://h:10/v1", "http://h:1", False),
        ("http://h:1@evil/v1", "http://h:1", False),
        ("http://h.evil/v1", "http://h", False),
        ("https://llm.internal/v1/chat", "https://llm.internal/v1", True),
        ("https://llm.internal/v10", "https://llm.internal/v1", False),
    ],
)
def test_under_respects_path_boundaries(url: str, prefix: str, expected: bool) -> None:
    assert under(url, prefix) is expected


def test_keys_go_to_the_longest_bound_prefix_and_defaults_keep_the_provider_key() -> None:
    endpoints = Endpoints(keys=(("https://a/", "k-short"), ("https://a/v1", "k-long")))
    assert endpoints.key_for(None) is None  # the provider's own endpoint: its own key
    assert endpoints.key_for("https://a/v1/x") == "k-long"
    assert endpoints.key_for("https://a/v2") == "k-short"
    assert endpoints.key_for("https://b/v1") == NO_KEY
    assert "k-long" not in repr(endpoints)


def test_the_allow_list_applies_once_there_are_tenants() -> None:
    endpoints = Endpoints(allowed=("http://127.0.0.1:11434/",))
    endpoints.check("http://10.0.0.1/v1", multi_tenant=False)
    endpoints.check("http://127.0.0.1:11434/api", multi_tenant=True)
    with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_BASE_URLS"):
        endpoints.check("http://10.0.0.1/v1", multi_tenant=True)
    with pytest.raises(InvalidInput, match="none are set"):
        Endpoints().check("http://127.0.0.1:11434/", multi_tenant=True)


def test_a_bound_key_must_name_a_set_variable() -> None:
    from agent_runtime.core.errors import ConfigurationError
    from agent_runtime.core.settings import Settings

    with pytest.raises(ConfigurationError, match="INTERNAL_LLM_KEY"):
        Settings.from_env({"RECALLD_BASE_URL_KEYS": "https://llm.internal/v1=INTERNAL_LLM_KEY"})
    settings = Settings.from_env(
        {
            "RECALLD_ALLOWED_BASE_URLS": "http://a/v1, https://b/",
            "RECALLD_BASE_URL_KEYS": "https://b/=K",
            "K": "secret",
        }
    )
    assert settings.allowed_base_urls == ("http://a/v1", "https://b/")
    assert settings.base_url_keys == (("https://b/", "secret"),)
