"""What the Kling-compatible routes answer, as models for the API document: the `{code, message,
request_id, data}` envelope around a task object, and the error body `routes.render_error` writes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KlingErrorBody(BaseModel):
    """A refusal: Kling's service `code` (1000 auth, 1101 arrears, 1201 invalid value, 1203 no such
    resource, 1303 over the limit, 5000 internal), a message naming the field, the request id."""

    model_config = ConfigDict(extra="forbid")

    code: int
    message: str
    request_id: str | None


class KlingVideoOut(BaseModel):
    id: str = Field(description="What a follow-up names as its `video_id`.")
    url: str
    duration: str


class KlingImageOut(BaseModel):
    index: int
    url: str


class KlingAudioOut(BaseModel):
    id: str
    url_mp3: str | None = None
    url_wav: str | None = None
    url: str | None = None
    duration_mp3: str | None = None
    duration_wav: str | None = None
    duration: str | None = None


class KlingResultOut(BaseModel):
    videos: list[KlingVideoOut]
    images: list[KlingImageOut]
    audios: list[KlingAudioOut] | None = None


class KlingTaskInfoOut(BaseModel):
    external_task_id: str


class KlingTaskOut(BaseModel):
    """A task as a query answers it (a create's answer leaves out `task_status_msg`)."""

    task_id: str
    task_status: Literal["submitted", "processing", "succeed", "failed"]
    task_status_msg: str | None = None
    task_info: KlingTaskInfoOut
    created_at: int = Field(description="Milliseconds since the epoch.")
    updated_at: int
    task_result: KlingResultOut | None = Field(default=None, description="Once it succeeded.")
    final_unit_deduction: str | None = Field(default=None, description="Credits charged, once it succeeded.")


class KlingTaskAnswer(BaseModel):
    code: Literal[0]
    message: Literal["SUCCEED"]
    request_id: str | None
    data: KlingTaskOut
