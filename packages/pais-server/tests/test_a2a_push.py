"""A2A push notifications: config methods of both families, every state change POSTed once to a webhook
on loopback with its token and authentication, private webhooks refused without the allow-list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pais_testing.agent_processes import a2a_user_message as user_message
from pais_testing.scripted_model import ScriptedModelServer
from pais_testing.webhook_receiver import WebhookReceiver

from .conftest import Served, ServeFactory
from .test_a2a_server import rpc, rpc_error, v1_message

STATES = ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


@pytest.fixture
def pushing(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> Served:
    """PAIS with local memory that may push to loopback."""
    return serve_pais(model_api_url=scripted_model.url, model_name="scripted", a2a_push_allowed_hosts="127.0.0.1")


def test_every_state_change_is_posted_once_with_the_token_and_authentication(
    pushing: Served, receiver: WebhookReceiver
) -> None:
    config = {
        "url": f"{receiver.base_url}/hook",
        "token": "secret-token",
        "authentication": {"schemes": ["Bearer"], "credentials": "webhook-credentials"},
    }
    task = rpc(
        pushing, "message/send", {"message": user_message("hi"), "configuration": {"pushNotificationConfig": config}}
    )
    assert task["status"]["state"] == "completed"
    delivered = receiver.wait_for("/hook", "TASK_STATE_COMPLETED")
    assert [n.state for n in delivered] == STATES
    for notification in delivered:
        assert notification.headers["x-a2a-notification-token"] == "secret-token"
        assert notification.headers["authorization"] == "Bearer webhook-credentials"
        inner = notification.body.get("task") or notification.body["statusUpdate"]
        assert inner.get("taskId", inner.get("id")) == task["id"]


def test_a_failed_delivery_is_retried_and_arrives_once(pushing: Served, receiver: WebhookReceiver) -> None:
    config = {"url": f"{receiver.base_url}/flaky", "token": "t"}
    params = {"message": v1_message("hi"), "configuration": {"taskPushNotificationConfig": config}}
    rpc(pushing, "SendMessage", params)
    delivered = receiver.wait_for("/flaky", "TASK_STATE_COMPLETED")
    assert [n.state for n in delivered] == STATES
    assert next(n.status for n in receiver.received if n.path == "/flaky") == 503  # the first try, answered again


def test_push_configs_round_trip_in_the_1_0_methods(pushing: Served, receiver: WebhookReceiver) -> None:
    task = rpc(pushing, "SendMessage", {"message": v1_message("hi")})["task"]
    config = {
        "taskId": task["id"],
        "id": "c1",
        "url": f"{receiver.base_url}/one",
        "token": "tok",
        "authentication": {"scheme": "Bearer", "credentials": "cred"},
    }
    assert rpc(pushing, "CreateTaskPushNotificationConfig", config) == config
    assert rpc(pushing, "GetTaskPushNotificationConfig", {"taskId": task["id"], "id": "c1"}) == config
    listed = rpc(pushing, "ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert listed == {"configs": [config], "nextPageToken": ""}
    assert rpc(pushing, "DeleteTaskPushNotificationConfig", {"taskId": task["id"], "id": "c1"}) == {}
    assert rpc_error(pushing, "GetTaskPushNotificationConfig", {"taskId": task["id"], "id": "c1"})["code"] == -32001
    assert rpc(pushing, "ListTaskPushNotificationConfig", {"taskId": task["id"]})["configs"] == []


def test_push_config_methods_accept_the_proto_field_name_task_id(pushing: Served, receiver: WebhookReceiver) -> None:
    """ProtoJSON parsers read `task_id` as well as `taskId` (the A2A TCK sends the former)."""
    task = rpc(pushing, "SendMessage", {"message": v1_message("hi")})["task"]
    config = {"taskId": task["id"], "id": "c3", "url": f"{receiver.base_url}/three"}
    assert rpc(pushing, "CreateTaskPushNotificationConfig", {**config, "task_id": task["id"]}) == config
    assert rpc(pushing, "GetTaskPushNotificationConfig", {"task_id": task["id"], "id": "c3"}) == config
    assert rpc(pushing, "ListTaskPushNotificationConfigs", {"task_id": task["id"]})["configs"] == [config]
    assert rpc(pushing, "DeleteTaskPushNotificationConfig", {"task_id": task["id"], "id": "c3"}) == {}
    assert rpc(pushing, "ListTaskPushNotificationConfigs", {"task_id": task["id"]})["configs"] == []


def test_push_configs_round_trip_in_the_0_3_methods(pushing: Served, receiver: WebhookReceiver) -> None:
    task = rpc(pushing, "message/send", {"message": user_message("hi")})
    inner = {
        "id": "c2",
        "url": f"{receiver.base_url}/two",
        "authentication": {"schemes": ["Basic"], "credentials": "x"},
    }
    config = {"taskId": task["id"], "pushNotificationConfig": inner}
    assert rpc(pushing, "tasks/pushNotificationConfig/set", config) == config
    query = {"id": task["id"], "pushNotificationConfigId": "c2"}
    assert rpc(pushing, "tasks/pushNotificationConfig/get", query) == config
    assert rpc(pushing, "tasks/pushNotificationConfig/list", {"id": task["id"]}) == [config]
    assert rpc(pushing, "tasks/pushNotificationConfig/delete", query) is None
    assert rpc(pushing, "tasks/pushNotificationConfig/list", {"id": task["id"]}) == []
    assert rpc_error(pushing, "tasks/pushNotificationConfig/delete", query)["code"] == -32001


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:9/hook", "A2A_PUSH_ALLOWED_HOSTS"),
        ("http://[::1]:9/hook", "A2A_PUSH_ALLOWED_HOSTS"),
        ("http://192.168.1.20/hook", "A2A_PUSH_ALLOWED_HOSTS"),
        ("http://localhost:9/hook", "A2A_PUSH_ALLOWED_HOSTS"),
        ("ftp://example.com/hook", "http or https"),
    ],
)
def test_a_private_webhook_is_refused_without_the_allow_list(pais: Served, url: str, problem: str) -> None:
    task = rpc(pais, "SendMessage", {"message": v1_message("hi")})["task"]
    error = rpc_error(pais, "CreateTaskPushNotificationConfig", {"taskId": task["id"], "url": url})
    assert error["code"] == -32602
    assert problem in error["message"]
    assert rpc(pais, "ListTaskPushNotificationConfigs", {"taskId": task["id"]})["configs"] == []


def test_the_card_declares_push_notifications(pais: Served) -> None:
    card: dict[str, Any] = pais.http.get("/.well-known/agent-card.json").json()
    assert card["capabilities"]["pushNotifications"] is True


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_the_sdk_client_round_trips_push_configs(
    pushing: Served, receiver: WebhookReceiver, version: str
) -> None:
    pytest.importorskip("a2a", reason="needs the a2a-sdk dev dependency")
    from a2a.types import a2a_pb2 as pb

    from .test_a2a_sdk_client import sdk_client

    task = rpc(pushing, "SendMessage", {"message": v1_message("hi")})["task"]
    client = await sdk_client(pushing, version, streaming=False)
    auth = pb.AuthenticationInfo(scheme="Bearer", credentials="cred")
    wanted = pb.TaskPushNotificationConfig(
        task_id=task["id"], id="sdk", url=f"{receiver.base_url}/sdk", token="tok", authentication=auth
    )
    assert await client.create_task_push_notification_config(wanted) == wanted
    query = pb.GetTaskPushNotificationConfigRequest(task_id=task["id"], id="sdk")
    assert await client.get_task_push_notification_config(query) == wanted
    listing = pb.ListTaskPushNotificationConfigsRequest(task_id=task["id"])
    assert list((await client.list_task_push_notification_configs(listing)).configs) == [wanted]
    await client.delete_task_push_notification_config(
        pb.DeleteTaskPushNotificationConfigRequest(task_id=task["id"], id="sdk")
    )
    assert list((await client.list_task_push_notification_configs(listing)).configs) == []
    await client.close()
