"""Tolerant parsing of the API's payloads, from the samples in shared/api/music-api.md."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.music import CallbackEvent, TaskInfo

RECORD_INFO = {
    "taskId": "09c0edbd9dc50df9b6174a7b240bbcba",
    "parentMusicId": "",
    "param": '{"uploadUrl":"https://x/a.mp3","title":"Song","callBackUrl":"https://cb"}',
    "response": {
        "taskId": "09c0edbd9dc50df9b6174a7b240bbcba",
        "sunoData": [
            {
                "id": "90273aa5-f25a-4ab0-adc7-9dfa1bac51f7",
                "audioUrl": "https://cdn/x.mp3",
                "sourceAudioUrl": "https://origin/x.mp3",
                "streamAudioUrl": "https://cdn/x",
                "imageUrl": "https://cdn/x.jpeg",
                "prompt": "",
                "modelName": "chirp-bluejay",
                "title": "Song",
                "tags": "lofi",
                "createTime": 1772624679694,
                "duration": 154.68,
            }
        ],
    },
    "status": "SUCCESS",
    "type": "chirp-bluejay",
    "operationType": "underpainting",
    "errorCode": None,
    "errorMessage": None,
    "createTime": 1772624550000,
}


def test_documented_task_object() -> None:
    info = TaskInfo.model_validate(RECORD_INFO)
    assert info.finished and not info.failed
    assert info.param["title"] == "Song"
    assert info.create_time is not None and info.create_time.year == 2026
    [track] = info.tracks
    assert track.audio_url == "https://cdn/x.mp3" and track.duration == 154.68
    assert track.stream_audio_url == "https://cdn/x" and track.image_url.endswith(".jpeg")


def test_pending_with_null_response_and_string_time() -> None:
    info = TaskInfo.model_validate(
        {"taskId": "a", "status": "PENDING", "response": None, "param": None,
         "createTime": "2025-01-01 00:00:00"}
    )  # fmt: skip
    assert info.tracks == [] and info.param == {} and not info.finished and not info.failed
    assert info.create_time is not None and info.create_time.year == 2025


def test_snake_case_data_and_half_finished_tracks() -> None:
    info = TaskInfo.model_validate(
        {
            "taskId": "a",
            "status": "FIRST_SUCCESS",
            "response": {
                "data": [
                    {
                        "id": "1",
                        "audio_url": "",
                        "source_audio_url": "https://o/1.mp3",
                        "duration": 10,
                    },
                    {"id": "2", "audio_url": "", "duration": None},
                    "garbage",
                    {"no_id": True},
                ]
            },
        }
    )
    assert [t.id for t in info.tracks] == ["1", "2"]
    assert info.tracks[0].audio_url == "https://o/1.mp3"  # origin URL when the CDN one is empty
    assert [t.ready for t in info.tracks] == [True, False]
    assert not info.finished


def test_failure_only_in_status() -> None:
    info = TaskInfo.model_validate(
        {"taskId": "a", "status": "SENSITIVE_WORD_ERROR", "errorCode": "413", "errorMessage": "no"}
    )
    assert info.failed and info.error_code == 413
    info = TaskInfo.model_validate(
        {"taskId": "a", "status": "CALLBACK_EXCEPTION", "response": None}
    )
    assert info.failed  # no tracks: nothing was generated


def test_callbacks_in_both_casings() -> None:
    documented = CallbackEvent.model_validate(
        {
            "code": 200,
            "msg": "All generated successfully.",
            "data": {
                "callbackType": "complete",
                "task_id": "2fac",
                "data": [
                    {"id": "8551", "audio_url": "https://a.mp3", "stream_audio_url": "https://s",
                     "image_url": "https://i.jpeg", "title": "T", "tags": "x",
                     "createTime": "2025-01-01 00:00:00", "duration": 198.44}
                ],
            },
        }
    )  # fmt: skip
    drifted = CallbackEvent.model_validate(
        {"code": 200, "msg": "ok", "data": {"callbackType": "complete", "taskId": "2fac",
         "data": [{"id": "8551", "audioUrl": "https://a.mp3", "duration": 198.44}]}}
    )  # fmt: skip
    for event in (documented, drifted):
        assert event.stage == "complete" and event.task_id == "2fac"
        assert event.tracks[0].audio_url == "https://a.mp3"


@pytest.mark.parametrize("data", [None, []])
def test_error_callback(data: object) -> None:
    event = CallbackEvent.model_validate(
        {
            "code": 451,
            "msg": "download failed",
            "data": {"callbackType": "error", "task_id": "t", "data": data},
        }
    )
    assert event.stage == "error" and event.code == 451 and event.tracks == []


@pytest.mark.parametrize(
    "body",
    [[], "x", {"code": 200}, {"code": 200, "data": {"callbackType": "complete"}},
     {"code": 200, "data": {"callbackType": "bogus", "task_id": "t"}}],
)  # fmt: skip
def test_malformed_callbacks_are_rejected(body: object) -> None:
    with pytest.raises(ValidationError):
        CallbackEvent.model_validate(body)
