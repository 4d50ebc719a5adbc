"""The one shape of every error body the API returns."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel


def readable(text: str) -> str:
    """`text` as an error may quote it: a NUL character the client sent (in a value or a key) is written
    out as `\\u0000`, so no error body carries the one character no text the API keeps may hold."""
    return text.replace("\x00", "\\u0000")


ReadableText = Annotated[str, AfterValidator(readable)]


class FieldProblem(BaseModel):
    field: ReadableText
    message: ReadableText


class ErrorBody(BaseModel):
    code: str
    message: ReadableText
    request_id: str | None = None
    fields: list[FieldProblem] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
