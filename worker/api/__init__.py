"""The HTTP job API: submit jobs and read results from any language (``openai-worker api``)."""

from worker.api.app import create_app
from worker.api.openapi import openapi_document

__all__ = ["create_app", "openapi_document"]
