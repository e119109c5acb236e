"""JSON shapes of the simulated API: the record-info task object and callback payloads.

Both the documented shapes and the drifted ones from music-api.md are produced, so a
client can be tested against each reading.
"""

from __future__ import annotations

import json
import time
from typing import Any

from simulator.faults import MISSING
from simulator.media import wav_duration
from simulator.tasks import COMPLETE, ERROR, FIRST, TEXT, SimTask

_MODEL_NAMES = {"V4_5PLUS": "chirp-bluejay", "V5": "chirp-crow", "V5_5": "chirp-v5-5"}
_CALLBACK_MSG = {
    TEXT: "Text generation completed.",
    FIRST: "First track generation completed.",
    COMPLETE: "All generated successfully.",
}

# camelCase -> snake_case track keys; createTime stays camelCase (as providers send it).
_SNAKE = {
    "audioUrl": "audio_url",
    "sourceAudioUrl": "source_audio_url",
    "streamAudioUrl": "stream_audio_url",
    "sourceStreamAudioUrl": "source_stream_audio_url",
    "imageUrl": "image_url",
    "sourceImageUrl": "source_image_url",
    "modelName": "model_name",
}


def model_name(task: SimTask) -> str:
    return _MODEL_NAMES.get(task.model, "chirp-" + task.model.lower())


def datetime_text(epoch_ms: int) -> str:
    """The ``"YYYY-MM-DD HH:MM:SS"`` (UTC) form some payloads use for createTime."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch_ms / 1000))


def audio_url(base: str, task_id: str, track_id: str) -> str:
    return f"{base}/files/{task_id}/{track_id}.wav"


def image_url(base: str, task_id: str, track_id: str) -> str:
    return f"{base}/files/{task_id}/{track_id}.png"


def stream_url(base: str, task_id: str, track_id: str) -> str:
    return f"{base}/stream/{task_id}/{track_id}"


def result_seconds(task: SimTask) -> float:
    """Length of the task's result audio: the sandbox rendering's, else the tone's."""
    if task.result_seconds is not None:
        return task.result_seconds
    return wav_duration(task.audio_seconds, pad_to_bytes=task.audio_pad_bytes)


def track_title(task: SimTask, index: int) -> str:
    """The take's title; the sandbox engine's tracks are told apart from the take's input
    (whose file name the take's title often is): "<title> - instrumental 1"."""
    title = str(task.params.get("title", ""))
    return f"{title} - instrumental {index + 1}" if task.sandbox and title else title


def tracks_camel(
    task: SimTask, stage: str | None, base: str, *, hollow: bool = False
) -> list[dict[str, Any]] | None:
    """Tracks as of progress ``stage`` in the documented record-info form.

    None before any track is listed. Rendering by stage rather than by clock keeps the
    "text" callback of a task that finish_now() jumped ahead consistent with its stage.
    ``hollow``: the last track is listed without audio although the stage is complete.
    """
    if stage is None:
        return None
    out = []
    last = len(task.tracks) - 1
    for index, track in enumerate(task.tracks):
        ready = stage == COMPLETE or (stage == FIRST and index == 0)
        if hollow and index == last and index > 0:
            ready = False
        audio = audio_url(base, task.task_id, track.track_id) if ready else ""
        stream = stream_url(base, task.task_id, track.track_id) if ready else ""
        image = image_url(base, task.task_id, track.track_id) if ready else ""
        item: dict[str, Any] = {
            "id": track.track_id,
            "audioUrl": audio,
            "sourceAudioUrl": audio,
            "streamAudioUrl": stream,
            "sourceStreamAudioUrl": stream,
            "imageUrl": image,
            "sourceImageUrl": image,
            "prompt": "",
            "modelName": model_name(task),
            "title": track_title(task, index),
            "tags": task.params.get("tags", ""),
            "createTime": track.create_ms,
        }
        if ready:  # a track still being made is listed without any duration key
            item["duration"] = round(result_seconds(task), 2)
        out.append(item)
    return out


def to_snake(track: dict[str, Any]) -> dict[str, Any]:
    """The snake_case track form, with createTime as a date-time string."""
    out = {_SNAKE.get(key, key): value for key, value in track.items()}
    out["createTime"] = datetime_text(track["createTime"])
    return out


def record_info(task: SimTask, now: float, base: str, casing: str) -> dict[str, Any]:
    """The ``data`` of a record-info answer; ``casing`` is "documented" or "drifted".

    Uses up one of the task's planned answer shapes (hollow SUCCESS, odd status) if any.
    """
    progress = task.progress(now)
    hollow = progress == COMPLETE and task.take_hollow()
    tracks = tracks_camel(task, progress, base, hollow=hollow)
    drifted = casing == "drifted"
    response: dict[str, Any] | None = None
    if tracks is not None:
        if drifted:
            response = {"taskId": task.task_id, "data": [to_snake(t) for t in tracks]}
        else:
            response = {"taskId": task.task_id, "sunoData": tracks}
    error_code, error_message = task.error(now)
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "parentMusicId": "",
        "param": json.dumps(task.params, ensure_ascii=False),
        "response": response,
        "status": task.status(now),
        "type": model_name(task),
        "operationType": "underpainting",
        "errorCode": error_code,
        "errorMessage": error_message,
        "createTime": datetime_text(task.created_ms) if drifted else task.created_ms,
    }
    odd = task.take_odd_status()
    if odd == MISSING:
        del data["status"]
    elif odd is not None:
        data["status"] = odd
    return data


def callback(task: SimTask, stage: str, base: str, casing: str) -> dict[str, Any]:
    """The JSON body POSTed to callBackUrl for ``stage`` ("text", "first", ...)."""
    id_key = "taskId" if casing == "drifted" else "task_id"
    if stage == ERROR:
        return {
            "code": task.error_code,
            "msg": task.error_message,
            "data": {"callbackType": ERROR, id_key: task.task_id, "data": None},
        }
    hollow = stage == COMPLETE and task.take_hollow()
    tracks = tracks_camel(task, stage, base, hollow=hollow) or []
    if casing != "drifted":
        tracks = [to_snake(t) for t in tracks]
    return {
        "code": 200,
        "msg": _CALLBACK_MSG[stage],
        "data": {"callbackType": stage, id_key: task.task_id, "data": tracks},
    }
