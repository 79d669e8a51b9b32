"""URL and header building for every configuration variant."""

from __future__ import annotations

import pytest

from worker.configurations import Configuration
from worker.errors import ConfigurationError
from worker.providers import AzureProvider, OpenAIProvider, provider_for
from worker.providers.azure import resource_root


def openai(**extra: str) -> Configuration:
    return Configuration(
        name="o", api_type="openai", endpoint="https://api.openai.com/v1", api_key="sk-x", **extra
    )


def azure(endpoint: str = "https://res.openai.azure.com", **extra: str) -> Configuration:
    fields = {"deployment_name": "gpt-4o", "api_version": "2024-10-21", **extra}
    return Configuration(
        name="a", api_type="azure_openai", endpoint=endpoint, api_key="k-123", **fields
    )


def test_openai_appends_the_path_to_the_endpoint() -> None:
    provider = provider_for(openai())

    assert isinstance(provider, OpenAIProvider)
    assert provider.url("chat/completions") == "https://api.openai.com/v1/chat/completions"
    assert provider.url("/embeddings") == "https://api.openai.com/v1/embeddings"
    assert provider.query("chat/completions") == {}


def test_openai_sends_a_bearer_key_and_the_organization_when_set() -> None:
    assert provider_for(openai()).auth_headers() == {"Authorization": "Bearer sk-x"}
    assert provider_for(openai(organization="org-1")).auth_headers() == {
        "Authorization": "Bearer sk-x",
        "OpenAI-Organization": "org-1",
    }


def test_openai_keeps_the_model_in_the_body() -> None:
    body = {"model": "gpt-4o", "messages": []}

    assert provider_for(openai()).prepare_body(body) == body


def test_a_trailing_slash_on_the_openai_endpoint_is_harmless() -> None:
    configuration = Configuration(
        name="o", api_type="openai", endpoint="http://127.0.0.1:9/v1/", api_key="sk-x"
    )

    assert provider_for(configuration).url("chat/completions") == (
        "http://127.0.0.1:9/v1/chat/completions"
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://res.openai.azure.com",
        "https://res.openai.azure.com/",
        "https://res.openai.azure.com/openai",
        "https://res.openai.azure.com/openai/deployments/",
        "https://res.openai.azure.com/openai/deployments",
    ],
)
def test_azure_accepts_the_resource_url_and_the_connector_form(endpoint: str) -> None:
    provider = provider_for(azure(endpoint))

    assert isinstance(provider, AzureProvider)
    assert provider.url("chat/completions") == (
        "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
    )
    assert provider.query("chat/completions") == {"api-version": "2024-10-21"}


def test_resource_root_leaves_other_paths_alone() -> None:
    assert resource_root("https://proxy.example/azure") == "https://proxy.example/azure"


def test_azure_sends_an_api_key_header_by_default() -> None:
    assert provider_for(azure()).auth_headers() == {"api-key": "k-123"}
    assert provider_for(azure(key_type="api_key")).auth_headers() == {"api-key": "k-123"}


def test_azure_sends_an_entra_token_as_bearer() -> None:
    assert provider_for(azure(key_type="bearer_token")).auth_headers() == {
        "Authorization": "Bearer k-123"
    }


def test_azure_leaves_the_model_out_of_the_body() -> None:
    body = provider_for(azure()).prepare_body({"model": "gpt-4o", "messages": []})

    assert body == {"messages": []}


def test_azure_escapes_the_deployment_name_in_the_path() -> None:
    provider = provider_for(azure(deployment_name="my deployment"))

    assert "/deployments/my%20deployment/" in provider.url("embeddings")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"deployment_name": ""}, "deployment_name is required"),
        ({"api_version": ""}, "api_version is required"),
        ({"api_version": "v2"}, "yyyy-mm-dd"),
        ({"api_version": "2024-10-21-beta"}, "yyyy-mm-dd"),
        ({"key_type": "password"}, "key_type must be one of"),
        ({"organization": "org"}, "organization applies to openai only"),
        ({"deployment_name": "a/b"}, "must not contain"),
    ],
)
def test_unusable_azure_configurations_are_refused_with_a_reason(
    fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        azure(**fields)


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("api.openai.com/v1", "http"),
        ("ftp://api.openai.com", "http"),
        ("https://user:pw@api.openai.com/v1", "credentials"),
        ("https://api.openai.com/v1?x=1", "query"),
    ],
)
def test_unusable_endpoints_are_refused(endpoint: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Configuration(name="o", api_type="openai", endpoint=endpoint, api_key="sk-x")


def test_azure_only_fields_are_refused_for_openai() -> None:
    with pytest.raises(ConfigurationError, match="api_version applies to azure_openai only"):
        openai(api_version="2024-10-21")


def test_the_key_never_shows_in_a_repr() -> None:
    assert "sk-x" not in repr(openai())
