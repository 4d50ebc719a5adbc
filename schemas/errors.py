"""The one shape of every error body the API returns."""

from pydantic import BaseModel


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    fields: list[FieldProblem] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
