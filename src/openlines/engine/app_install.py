"""An application's installation, as its handler hears it: ``ONAPPINSTALL``.

On Bitrix24 the event goes to the installation handler given in the app's version card (and to any
OnAppInstall binding the app made itself); it is the first event an app receives and the one that
hands it its ``application_token`` and, for apps without a user interface, its first tokens. Here an
app declared in ``[[apps]]`` (or made with ``openlines app create``) may name an
``install_handler``: it is bound to OnAppInstall for that app, and the event is written when the app
is created and again whenever it is installed anew (``openlines app install``). The delivery worker
adds the tokens of the user who installed it (see :mod:`openlines.delivery.tokens`).
"""

from __future__ import annotations

from openlines.domain.credentials import App
from openlines.domain.delivery import Binding
from openlines.engine.events import LANGUAGE, bindings_changed, emit_to_apps
from openlines.services import Services

INSTALL_EVENT = "ONAPPINSTALL"
VERSION = "1"


def install_data() -> dict[str, str]:
    """``data`` of ONAPPINSTALL (documented shape: VERSION, ACTIVE, INSTALLED, LANGUAGE_ID)."""
    return {"VERSION": VERSION, "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": LANGUAGE}


async def bind_install_handler(services: Services, app: App, handler: str) -> None:
    """Bind ``handler`` to the app's OnAppInstall (kept when it is bound already)."""
    if handler:
        now = services.clock.now()
        await services.store.bind_event(Binding(0, app.client_id, INSTALL_EVENT, handler, created=now))
        await bindings_changed(services)


async def installed(services: Services, app: App) -> bool:
    """The app was installed: ONAPPINSTALL for its own OnAppInstall handlers only, in the caller's
    transaction. False when it has none (nothing is written)."""
    return await emit_to_apps(services, INSTALL_EVENT, 0, install_data(), app.client_id)
