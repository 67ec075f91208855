"""An HTML form that the browser submits itself (rx.el.form always prevents that)."""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """A <form> posted by the browser: a full page load follows the response.

    Sign-in and sign-out need it, because only an HTTP response can set or
    clear the HttpOnly session cookie.
    """

    tag = "form"

    action: Var[str] = field(doc="URL the form posts to")
    method: Var[str] = field(doc="HTTP method, post for every form here")


native_form = NativeForm.create
