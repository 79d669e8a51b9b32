"""Wire layouts of OpenAI and Azure OpenAI: URLs, auth headers, api-version, errors."""

from worker.configurations import Configuration
from worker.providers.azure import AzureProvider
from worker.providers.base import Provider, ProviderClient
from worker.providers.openai import OpenAIProvider


def provider_for(configuration: Configuration) -> Provider:
    """The wire layout a configuration speaks."""
    if configuration.is_azure:
        return AzureProvider(configuration)
    return OpenAIProvider(configuration)


__all__ = ["AzureProvider", "OpenAIProvider", "Provider", "ProviderClient", "provider_for"]
