"""ONAPPINSTALL over HTTP: an app with an install handler hears its installation once, with the
documented data and the tokens an app without a user interface keeps (what CRest's ``installApp``
needs); the access token works; a restart does not install it again; ``openlines app install``
does; an app made with ``openlines app create --install-handler`` is installed while the server runs.
"""

from __future__ import annotations

from pathlib import Path

from openlines.delivery import envelope
from tests.conftest import DEMO_HOOK, ServerProcess, run_cli
from tests.delivery.handler import Handler, Received

APP_ID = "local.installed.app"
APP_TOKEN = "installed-application-token"
CREST_NEEDS = ("application_token", "client_endpoint", "domain", "access_token", "refresh_token")


def config(handler_url: str) -> str:
    return f"""
[delivery]
poll_interval = 0.05

[[apps]]
client_id = "{APP_ID}"
client_secret = "installed-secret"
scopes = ["imopenlines", "user"]
install_user = 1
application_token = "{APP_TOKEN}"
install_handler = "{handler_url}"
"""


def installs(handler: Handler, count: int, path: str = "/install.php") -> list[Received]:
    return [r for r in handler.wait_for(count, "ONAPPINSTALL") if r.path_qs == path]


def test_an_app_is_installed_once_and_again_on_request(tmp_path: Path, handler: Handler) -> None:
    (tmp_path / "openlines.toml").write_text(config(handler.url("/install.php")))
    args = ["--demo", "--config", str(tmp_path / "openlines.toml")]
    server = ServerProcess(tmp_path, args).start()
    try:
        (first,) = installs(handler, 1)
        fields = first.fields
        assert fields["event"] == "ONAPPINSTALL" and int(fields["event_handler_id"]) > 0
        assert first.nested["data"] == {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"}
        assert all(fields.get(f"auth[{key}]") for key in CREST_NEEDS), fields
        assert fields["auth[application_token]"] == APP_TOKEN
        assert fields["auth[user_id]"] == "1" and fields["auth[client_endpoint]"] == f"{server.url}/rest/"
        assert envelope.verify(APP_TOKEN, first.body, first.headers["X-Openlines-Signature"])
        with server.client() as client:
            me = client.post("/rest/user.current.json", json={"auth": fields["auth[access_token]"]})
            assert me.status_code == 200 and me.json()["result"]["ID"] == "1"
            bindings = client.post("/rest/event.get.json", json={"auth": fields["auth[access_token]"]})
        bound = [(b["event"], b["handler"]) for b in bindings.json()["result"]]
        assert bound == [("ONAPPINSTALL", handler.url("/install.php"))]
    finally:
        server.stop()

    # A restart applies the same configuration: the app exists, nothing is installed.
    server = ServerProcess(tmp_path, args).start()
    try:
        again = run_cli("app", "install", APP_ID, "--db", str(server.db))
        assert again.returncode == 0, again.stderr
        # Deliveries of one app keep their order: a second install queued by the restart would
        # arrive before the one just asked for.
        assert len(installs(handler, 2)) == 2
        with server.client() as client:
            listed = client.post(
                f"{DEMO_HOOK}openlines.event.delivery.list.json",
                json={"FILTER": {"EVENT": "ONAPPINSTALL"}},
            )
        # Each install is a row for the app, copied to its one handler.
        statuses = sorted(d["STATUS"] for d in listed.json()["result"])
        assert statuses == ["delivered", "delivered", "expanded", "expanded"]
    finally:
        server.stop()


def test_app_create_with_an_install_handler_installs_it_on_the_running_server(
    tmp_path: Path, handler: Handler
) -> None:
    server = ServerProcess(tmp_path, ["--demo"]).start()
    try:
        made = run_cli(
            "app", "create", "--scope", "user", "--client-id", "local.cli.app",
            "--install-handler", handler.url("/cli-install.php"), "--db", str(server.db),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        (got,) = installs(handler, 1, "/cli-install.php")
        token = next(
            line.split(": ", 1)[1]
            for line in made.stdout.splitlines()
            if line.startswith("application_token")
        )
        assert got.fields["auth[application_token]"] == token
        assert got.fields["auth[access_token]"] and got.fields["auth[refresh_token]"]

        nowhere = run_cli("app", "install", "local.cli.app.unknown", "--db", str(server.db))
        assert nowhere.returncode == 2 and "no app with client_id" in nowhere.stderr
        bad = run_cli(
            "app", "create", "--scope", "user", "--install-handler", "ftp://x", "--db", str(server.db)
        )
        assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    finally:
        server.stop()


def test_a_bad_install_handler_in_the_configuration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "openlines.toml").write_text(config("not a url"))
    checked = run_cli("check-config", str(tmp_path / "openlines.toml"))
    assert checked.returncode != 0
    assert "apps[0].install_handler: not an http(s) URL" in checked.stdout + checked.stderr
