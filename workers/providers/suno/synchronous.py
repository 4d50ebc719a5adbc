"""Suno's synchronous calls, fitted to submit-and-poll. `persona/create` makes a persona and answers it
at once: the submit makes that call (a lost answer is ambiguous and never sent again) and its id is the
task's; the polls answer what it made. `act/{kind}/{clip_id}` is an idempotent GET: the submit calls
nothing, and each poll asks for the conversion until it is done (MIDI answers `running` for a while)."""

from __future__ import annotations

import httpx

from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef
from workers.providers.errors import ProviderUnavailableError, SubmitOutcomeUnknownError
from workers.providers.suno.bodies import chosen_clip, persona_body
from workers.providers.suno.calls import PROVIDER, auth_headers, base, refusal_error
from workers.providers.suno.wire import envelope, refusal
from workers.providers.suno.wire_sync import conversion_update, persona_id, refused_update, unwrapped
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors


def create_persona(http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
    """Make the persona; its id. Sent once: a lost answer raises SubmitOutcomeUnknownError."""
    body = persona_body(request)
    with translate_transport_errors(Phase.SUBMIT, PROVIDER):
        response = http.post(f"{base(channel)}/persona/create", json=body, headers=auth_headers(channel))
    answer = envelope(response)
    if response.is_success and (answer is None or answer.ok):
        made = persona_id(_json(response))
        if made is None:
            raise SubmitOutcomeUnknownError("suno: persona/create answered without a persona id")
        return made
    raise_for_transient_status(response, Phase.SUBMIT, PROVIDER)
    # Our input was checked: a persona Suno won't make from this clip is its failure, not the client's.
    raise refusal_error(response, refusal(response, answer), refused="upstream_failed")


def act_target(request: SubmitRequest) -> str:
    """A conversion's submit: nothing is called upstream; the clip is what each poll converts."""
    return chosen_clip(request)


def convert(http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
    """Ask for the conversion `task.operation` of clip `task.external_id`."""
    kind, clip = task.operation, task.external_id
    with translate_transport_errors(Phase.QUERY, PROVIDER):
        response = http.get(f"{base(channel)}/act/{kind}/{clip}", headers=auth_headers(channel))
    raise_for_transient_status(response, Phase.QUERY, PROVIDER)
    answer = envelope(response)
    if response.status_code in (401, 402):
        # This channel's key or credits, not the clip: asked again later (the job keeps its channel).
        raise ProviderUnavailableError(f"suno: act/{kind} answered HTTP {response.status_code}")
    if not response.is_success or (answer is not None and not answer.ok):
        code, message = refusal(response, answer)
        return refused_update(kind, message or code)
    payload = unwrapped(_json(response))
    if payload is None:
        raise ProviderUnavailableError(f"suno: unreadable act/{kind} answer (HTTP {response.status_code})")
    return conversion_update(kind, clip, payload)


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
