"""Wire layouts of OpenAI and Azure OpenAI: URLs, auth headers, api-version, errors."""

from worker.configurations import Configuration
from worker.providers.azure import AzureProvider, AzureV1Provider
from worker.providers.base import Provider, ProviderClient
from worker.providers.openai import OpenAICompatibleProvider, OpenAIProvider


def provider_for(configuration: Configuration) -> Provider:
    """The wire layout a configuration speaks."""
    if configuration.is_azure_v1:
        return AzureV1Provider(configuration)
    if configuration.is_azure:
        return AzureProvider(configuration)
    if configuration.api_type == "openai_compatible":
        return OpenAICompatibleProvider(configuration)
    return OpenAIProvider(configuration)


__all__ = [
    "AzureProvider",
    "AzureV1Provider",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "Provider",
    "ProviderClient",
    "provider_for",
]
