"""Structured output: an OpenAI `response_format` as the run's Pydantic AI output type.

`json_schema` becomes a `StructuredDict` of that schema; `json_object` one of `{"type": "object"}`.
How the model is asked depends on what reaches it: a model API with native JSON-schema output
gets `NativeOutput` (the schema travels as the API's own `response_format`); string mode and
models without it get `PromptedOutput` (the schema in the instructions, with the API's JSON mode
where it has one). Either way Pydantic AI validates the answer against the schema and retries
the model once with the validation error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic_ai import NativeOutput, PromptedOutput, StructuredDict
from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model
from pydantic_ai.output import OutputSpec

from pais_core import BadRequestError, ResponseFormat

from ..tools._string_mode import StringModeModel

__all__ = ["StructuredOutput", "output_spec", "structured_output"]


@dataclass(frozen=True)
class StructuredOutput:
    """The JSON value a run must answer with; plain data, so a paused run keeps it (`PausedRun.output`)."""

    json_schema: dict[str, Any]
    name: str | None = None
    description: str | None = None
    native: bool = True
    """Ask with the model API's JSON-schema output when it has one (False: JSON object mode)."""
    strict: bool | None = None

    @cached_property
    def output_type(self) -> type[dict[str, Any]]:
        """The schema as a Pydantic AI output type.

        Raises:
            UserError: the schema is not a usable object schema.
        """
        return StructuredDict(self.json_schema, name=self.name, description=self.description)


def structured_output(response_format: ResponseFormat | None) -> StructuredOutput | None:
    """The structured output `response_format` asks for; None for text.

    Raises:
        BadRequestError: a `json_schema` without a usable object schema.
    """
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return StructuredOutput({"type": "object"}, name="json_object", native=False)
    spec = response_format.json_schema
    if spec is None or spec.schema_ is None:
        raise BadRequestError("response_format json_schema needs json_schema.schema", param="response_format")
    output = StructuredOutput(spec.schema_, name=spec.name, description=spec.description, strict=spec.strict)
    try:
        output.output_type  # noqa: B018 - built now, so that a bad schema is the request's 400
    except UserError as exc:
        raise BadRequestError(f"response_format json_schema: {exc}", param="response_format") from exc
    return output


def output_spec(output: StructuredOutput, model: Model | str | None) -> OutputSpec[Any]:
    """Native output where the model API takes a JSON schema, prompted output otherwise."""
    native = (
        output.native
        and isinstance(model, Model)
        and not isinstance(model, StringModeModel)
        and model.profile.get("supports_json_schema_output", False)
    )
    if native:
        return NativeOutput(output.output_type, strict=output.strict)
    return PromptedOutput(output.output_type)
