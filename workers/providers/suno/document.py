"""How the `/suno/...` routes read in the API document: the `{code, message, data}` envelope of their
answers and refusals, the bodies of the simple submits, and the links from a submit to its fetch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH
from workers.providers.suno.schemas import DEFAULT_MODEL, SUNO_MODELS
from workers.providers.suno.schemas_ops import AUDIO_URL_PATTERN, MAX_AUDIO_URL

FETCH = "suno_get_fetch_task_id_suno_fetch__task_id__get"
FETCH_MANY = "suno_post_fetch_suno_fetch_post"
# Unused fields may come as "" or null (clients built on Go structs send every field): not sent.
BLANK: list[dict[str, Any]] = [{"type": "null"}, {"const": ""}]
HOOK = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_CALLBACK_URL_LENGTH, "pattern": CALLBACK_URL_PATTERN},
        *BLANK,
    ],
    "description": "Where the task is POSTed as it changes; its host must resolve to a public address.",
}


def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A JSON request body of these fields and no others."""
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


LYRICS_BODY = body(
    {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 3000, "pattern": r"\S"},
        "mv": {"description": "Ignored: lyrics have no model to choose."},
        "notify_hook": HOOK,
    },
    ["prompt"],
)
UPLOAD_BODY = body(
    {
        "url": {"type": "string", "pattern": AUDIO_URL_PATTERN, "maxLength": MAX_AUDIO_URL},
        "notify_hook": HOOK,
    },
    ["url"],
)
CREATED_LINKS = {
    "FetchTask": {"operationId": FETCH, "parameters": {"task_id": "$response.body#/data"}},
    "FetchTasks": {"operationId": FETCH_MANY, "requestBody": {"ids": ["$response.body#/data"]}},
}


def created_links() -> dict[str, Any]:
    return {"responses": {"200": {"links": CREATED_LINKS}}}


class SunoError(BaseModel):
    """A refusal: new-api's string code (`invalid_request`, `task_not_exist`, `unauthorized`,
    `quota_not_enough`, ...) and a message naming the field to fix."""

    code: str
    message: str
    data: None


class SunoCreated(BaseModel):
    """A submit's answer: `data` is the task id to fetch."""

    code: Literal["success"]
    message: str
    data: str


class SunoFetched(BaseModel):
    """A fetch's answer: `data` is the TaskDto (or a list of them)."""

    code: Literal["success"]
    message: str
    data: dict[str, Any] | list[dict[str, Any]]


# --- the clip follow-ups' and the music submit's bodies ------------------------------------------------

CLIP_ID = {"type": "string", "minLength": 1, "maxLength": 64}


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    """A field that may be left out, null or "" alike (all three: not sent)."""
    return {"anyOf": [schema, *BLANK]}


CONCAT_BODY = body(
    {
        "clip_id": {
            **CLIP_ID,
            "description": "The extended clip (of a music task of yours) the song ends with.",
        },
        "is_infill": optional(
            {"type": "boolean", "description": "True for a clip made by replacing a section."}
        ),
        "notify_hook": HOOK,
    },
    ["clip_id"],
)
PERSONA_BODY = body(
    {
        "root_clip_id": {
            **CLIP_ID,
            "description": "A clip of a music or concat task of yours that has succeeded (not an upload).",
        },
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
        "description": optional({"type": "string", "maxLength": 1000}),
        "clips": optional(
            {
                "type": "array",
                "items": CLIP_ID,
                "minItems": 1,
                "maxItems": 10,
                "description": "Clips of the root clip's task the persona learns from, root_clip_id among "
                "them; just root_clip_id when left out.",
            }
        ),
        "is_public": optional({"type": "boolean"}),
    },
    ["root_clip_id", "name"],
)

# The music submit's fields as each is typed when sent; a mode's rules pick which are sent.
TEXT = {"type": "string", "pattern": r"\S"}  # not blank
NUMBER = {"type": "number", "minimum": 0}
MUSIC_FIELDS: dict[str, dict[str, Any]] = {
    "mode": {"enum": ["inspiration", "custom", "continuation"]},
    "gpt_description_prompt": {"type": "string", "minLength": 1, "maxLength": 3000},
    "make_instrumental": {"type": "boolean"},
    "prompt": {"type": "string", "maxLength": 5000},
    "tags": {"type": "string", "maxLength": 1000},
    "negative_tags": {"type": "string", "maxLength": 1000},
    "title": {"type": "string", "maxLength": 200},
    "continue_clip_id": {"type": "string", "minLength": 1},
    "continue_at": NUMBER,
    "task_id": {"type": "string", "minLength": 1},
    "infill_start_s": NUMBER,
    "infill_end_s": NUMBER,
    "task": {"const": "artist_consistency"},
    "persona_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "artist_clip_id": {"type": "string", "minLength": 1, "maxLength": 64},
}
MUSIC_DESCRIPTIONS = {
    "mode": "Derived from the fields sent; when sent, it must be that mode.",
    "prompt": "Lyrics, with [Verse] tags.",
    "continue_at": "Seconds into the clip.",
    "task_id": "The task (ours, or Suno's id of one of yours) whose clip continue_clip_id is.",
    "infill_end_s": "After infill_start_s.",
}
INSPIRATION_ONLY = ("gpt_description_prompt",)
CUSTOM_ONLY = ("prompt", "tags", "negative_tags", "title")
CONTINUATION_ONLY = ("continue_clip_id", "continue_at", "task_id", "infill_start_s", "infill_end_s")
PERSONA = ("task", "persona_id", "artist_clip_id")
# What each mode sends (required), may send, and its rule; every other music field is left out.
MODES: list[tuple[str, list[str], tuple[str, ...], dict[str, Any]]] = [
    ("inspiration", ["gpt_description_prompt"], ("make_instrumental",), {}),
    (
        "custom",
        ["prompt"],
        ("make_instrumental", *CUSTOM_ONLY),
        {"prompt": {**MUSIC_FIELDS["prompt"], **TEXT}},
    ),
    (
        "custom",
        ["make_instrumental", "tags"],
        ("prompt", "negative_tags", "title"),
        {"make_instrumental": {"const": True}, "tags": {**MUSIC_FIELDS["tags"], **TEXT}},
    ),
    (
        "continuation",
        ["continue_clip_id", "continue_at", "task_id"],
        ("make_instrumental", *CUSTOM_ONLY, "infill_start_s", "infill_end_s"),
        {},
    ),
]
# `task: "gen_stem"`: stems of a clip, read from these fields; the others a stem body carries are
# fixed by the protocol and not read, so anything is taken there.
STEM_FIELDS: dict[str, Any] = {
    "task": {"const": "gen_stem"},
    "continue_clip_id": {"type": "string", "minLength": 1, "description": "The clip to split."},
    "task_id": optional({"type": "string", "minLength": 1, "description": "The clip's task."}),
    "stem_task": optional({"enum": ["two", "twelve"]}),
    "stem_type_group_name": {"description": "Two or Twelve (when stem_task is left out)."},
    "title": optional({"type": "string", "maxLength": 200}),
    "notify_hook": HOOK,
    **{
        fixed: {"description": "Fixed by the protocol; not read."}
        for fixed in ("generation_type", "mv", "prompt", "make_instrumental", "stem_type_id")
    },
}


def _music_mode(
    mode: str, required: list[str], may: tuple[str, ...], rules: dict[str, Any], persona: bool
) -> dict[str, Any]:
    sent = {*required, *may, *(PERSONA if persona else ())}
    properties: dict[str, Any] = {
        name: {
            **rules.get(name, schema),
            **({"description": MUSIC_DESCRIPTIONS[name]} if name in MUSIC_DESCRIPTIONS else {}),
        }
        if name in required
        else optional(rules.get(name, schema))
        if name in sent
        else {"enum": [None, ""]}
        for name, schema in MUSIC_FIELDS.items()
    }
    properties["mode"] = optional({"const": mode})
    properties["mv"] = optional({"enum": list(SUNO_MODELS), "description": f"Default {DEFAULT_MODEL}."})
    properties["notify_hook"] = HOOK
    if persona:
        required = [*required, *PERSONA]
        properties |= {name: MUSIC_FIELDS[name] for name in PERSONA}
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


MUSIC_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "The fields sent pick the mode: gpt_description_prompt is inspiration, "
                    "continue_clip_id continuation, otherwise custom (prompt, the lyrics; or tags with "
                    "make_instrumental). task: artist_consistency sings in a persona's voice (persona_id, "
                    "artist_clip_id); task: gen_stem splits a clip (continue_clip_id) into stems.",
                    "anyOf": [
                        *(
                            _music_mode(mode, required, may, rules, persona)
                            for mode, required, may, rules in MODES
                            for persona in (False, True)
                        ),
                        {
                            "type": "object",
                            "properties": STEM_FIELDS,
                            "required": ["task", "continue_clip_id"],
                            "additionalProperties": False,
                        },
                    ],
                }
            }
        },
    }
}
