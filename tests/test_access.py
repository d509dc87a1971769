"""API tokens: every endpoint against no token, read, write, admin, and another team's token."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from service.access import parse_tokens
from service.app import create_app
from service.config import Settings

SECRETS = {
    "reader": "read-secret-0123456789",
    "writer": "write-secret-0123456789",
    "admin": "admin-secret-0123456789",
    "team-b": "team-b-secret-0123456789",
}
TOKENS = json.dumps(
    [
        {"name": "reader", "token": SECRETS["reader"], "scopes": ["read"]},
        {"name": "writer", "token": SECRETS["writer"], "scopes": ["write"]},
        {"name": "admin", "token": SECRETS["admin"], "scopes": ["admin"]},
        {"name": "team-b", "token": SECRETS["team-b"], "scopes": ["admin"], "prefixes": ["team-b-"]},
    ]
)
STUDY = "team-a-mnist"
BODY = {"space": [{"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"}]}
# Every secured operation and the scope it needs. A new endpoint fails the test until it is listed.
REQUIRED = {
    ("get", "/v1/studies"): "read",
    ("put", "/v1/studies/{name}"): "admin",
    ("get", "/v1/studies/{name}"): "read",
    ("delete", "/v1/studies/{name}"): "admin",
    ("post", "/v1/studies/{name}/trials/ask"): "write",
    ("post", "/v1/studies/{name}/trials/{trial_id}/tell"): "write",
    ("post", "/v1/studies/{name}/trials/{trial_id}/heartbeat"): "write",
    ("get", "/v1/studies/{name}/trials"): "read",
    ("get", "/v1/studies/{name}/trials/{number}"): "read",
    ("get", "/v1/studies/{name}/best"): "read",
    ("post", "/v1/studies/{name}/trials/{trial_id}/report"): "write",
    ("get", "/v1/studies/{name}/curves"): "read",
    ("get", "/v1/studies/{name}/regions"): "read",
    ("post", "/v1/studies/{name}/regions"): "write",
    ("get", "/v1/studies/{name}/importance"): "read",
    ("post", "/v1/studies/{name}/enqueue"): "write",
    ("post", "/v1/studies/{name}/pause"): "write",
    ("post", "/v1/studies/{name}/resume"): "write",
    ("put", "/v1/studies/{name}/note"): "write",
    ("put", "/v1/studies/{name}/trials/{number}/note"): "write",
    ("get", "/v1/studies/{name}/export"): "read",
    ("post", "/v1/studies/{name}/import"): "admin",
}
BODIES = {
    "tell": {"state": "complete", "value": 1.0},
    "{name}": BODY,
    "report": {"step": 1, "value": 1.0},
    "enqueue": {"configurations": [{"lr": 0.01}]},
    "note": {"note": "n"},
    "regions": {"param": "lr", "low": 0.001, "high": 0.01, "note": "n"},
}
RANK = {"read": 1, "write": 2, "admin": 3}
TOKEN_RANK = {"reader": 1, "writer": 2, "admin": 3}


def make_client(settings: Settings) -> Any:
    return create_app({"settings": settings}).test_client()


@pytest.fixture
def api(settings: Settings, redis_client: Any) -> Any:
    client = make_client(Settings(redis_url=settings.redis_url, tokens=parse_tokens(TOKENS)))
    admin = {"Authorization": f"Bearer {SECRETS['admin']}"}
    assert client.put(f"/v1/studies/{STUDY}", json=BODY, headers=admin).status_code == 201
    assert client.post(f"/v1/studies/{STUDY}/trials/ask", json={}, headers=admin).status_code == 200
    return client


def operations(api: Any) -> list[tuple[str, str]]:
    spec = api.get("/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if (
                method in ("get", "put", "post", "delete", "patch")
                and operation.get("security", spec.get("security")) != []
            ):
                found.append((method, path))
    return found


def call(api: Any, method: str, path: str, secret: str | None) -> int:
    url = path.replace("{name}", STUDY).replace("{number}", "0")
    if path.endswith("/curves"):
        url += "?numbers=0"
    body = next((b for marker, b in BODIES.items() if path.endswith(marker)), {})
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return getattr(api, method)(url, json=body if method in ("put", "post") else None, headers=headers).status_code


def test_every_secured_operation_is_in_the_table(api: Any) -> None:
    assert sorted(operations(api)) == sorted(REQUIRED)


@pytest.mark.parametrize(("method", "path"), sorted(REQUIRED))
@pytest.mark.parametrize("who", ["nobody", "bad", "reader", "writer", "admin", "team-b"])
def test_access_matrix(api: Any, method: str, path: str, who: str) -> None:
    secret = {"nobody": None, "bad": "not-a-valid-token-at-all"}.get(who, SECRETS.get(who))
    status = call(api, method, path, secret)
    needed = RANK[REQUIRED[(method, path)]]
    if who in ("nobody", "bad"):
        assert status == 401
    elif who == "team-b":
        # Another team's admin: only the study list is open to it, and it shows none of team a's studies.
        assert status == (200 if path == "/v1/studies" else 403)
    elif TOKEN_RANK[who] < needed:
        assert status == 403
    else:
        assert status not in (401, 403)


def test_errors_say_what_is_wrong_and_401_asks_for_a_bearer_token(api: Any) -> None:
    response = api.get(f"/v1/studies/{STUDY}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in response.get_json()["error"]["message"]
    forbidden = api.delete(f"/v1/studies/{STUDY}", headers={"Authorization": f"Bearer {SECRETS['writer']}"})
    assert forbidden.get_json()["error"] == {
        "code": "forbidden",
        "message": "token 'writer' lacks the admin scope",
        "details": None,
    }


def test_a_team_token_works_on_its_own_prefix_and_lists_only_its_studies(api: Any) -> None:
    team_b = {"Authorization": f"Bearer {SECRETS['team-b']}"}
    assert api.put("/v1/studies/team-b-cifar", json=BODY, headers=team_b).status_code == 201
    assert api.post("/v1/studies/team-b-cifar/trials/ask", json={}, headers=team_b).status_code == 200
    listed = api.get("/v1/studies", headers=team_b).get_json()["studies"]
    assert [s["name"] for s in listed] == ["team-b-cifar"]
    everyone = api.get("/v1/studies", headers={"Authorization": f"Bearer {SECRETS['reader']}"}).get_json()
    assert [s["name"] for s in everyone["studies"]] == [STUDY, "team-b-cifar"]


def test_a_warm_start_needs_read_on_the_old_study_too(api: Any) -> None:
    team_b = {"Authorization": f"Bearer {SECRETS['team-b']}"}
    stolen = {**BODY, "warm_start": {"from": STUDY}}
    assert api.put("/v1/studies/team-b-cifar", json=stolen, headers=team_b).status_code == 403
    assert api.get("/v1/studies/team-b-cifar", headers=team_b).status_code == 404
    admin = {"Authorization": f"Bearer {SECRETS['admin']}"}
    assert api.put("/v1/studies/team-a-next", json=stolen, headers=admin).status_code == 201


def test_probes_and_docs_need_no_token(api: Any) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert api.get(path).status_code == 200, path


def test_secrets_never_reach_the_logs(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    for secret in SECRETS.values():
        api.get(f"/v1/studies/{STUDY}", headers={"Authorization": f"Bearer {secret}"})
    api.get("/v1/studies", headers={"Authorization": "Bearer wrong-secret-0123456789"})
    assert not any(re.search("secret-0123456789", record.getMessage()) for record in caplog.records)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"name": "a", "scopes": ["read"]}]',
        '[{"name": "a", "token": "short", "scopes": ["read"]}]',
        '[{"name": "a", "token": "long-enough-secret-1", "scopes": ["root"]}]',
        '[{"name": "a", "token": "long-enough-secret-1", "sha256": "00", "scopes": ["read"]}]',
        '[{"name": "a", "sha256": "abcd", "scopes": ["read"]}]',
        '[{"name": "a", "token": "long-enough-secret-1", "scopes": ["read"], "prefix": "x"}]',
        '[{"name": "a", "token": "long-enough-secret-1", "scopes": ["read"]}, '
        '{"name": "a", "token": "long-enough-secret-2", "scopes": ["read"]}]',
    ],
)
def test_bad_token_configuration_is_refused_at_start_up(text: str) -> None:
    with pytest.raises(ValueError):
        parse_tokens(text)


def test_tokens_load_from_a_file_or_the_environment(tmp_path: Any) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(TOKENS)
    from_file = Settings.from_env({"HONE_TOKENS_FILE": str(path)})
    assert [t.name for t in from_file.tokens] == ["reader", "writer", "admin", "team-b"]
    assert Settings.from_env({"HONE_TOKENS": TOKENS}).tokens == from_file.tokens
    hashed = json.dumps([{"name": "h", "sha256": "ab" * 32, "scopes": ["read"]}])
    assert Settings.from_env({"HONE_TOKENS": hashed}).tokens[0].digest == bytes.fromhex("ab" * 32)
